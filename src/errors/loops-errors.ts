/**
 * The typed errors of the Loops contract (shared/LOOPS_API.md, "Errors"), and their wire form.
 *
 * One root, `LoopsError`. Every class carries a stable `error_class` name so an error thrown in the
 * engine worker can be rebuilt as the same class on the page (`instanceof` keeps working across
 * the boundary). This module has no dependencies: the client, the protocol and the engine all use it.
 */

/** Plain, structured-cloneable form of a `LoopsError`, as it crosses the worker boundary. */
export interface WireError {
  readonly error_class: string;
  readonly message: string;
  /** For `RemoteOpError`: the class of the underlying failure (for example `DeviceLostError`). */
  readonly cause_class?: string;
  readonly stack?: string;
}

export class LoopsError extends Error {
  /** Stable class name used on the wire; subclasses override it. */
  get error_class(): string {
    return 'LoopsError';
  }

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad arguments, thrown at call time on the page before anything is queued. */
export class ValidationError extends LoopsError {
  override get error_class(): string {
    return 'ValidationError';
  }
}

/** An op failed inside the engine; `cause_class` names the cause (for example `OutOfMemoryError`). */
export class RemoteOpError extends LoopsError {
  readonly cause_class: string;

  constructor(message: string, causeClass = 'Error') {
    super(message);
    this.cause_class = causeClass;
  }

  override get error_class(): string {
    return 'RemoteOpError';
  }
}

/** `future.result(timeout)` gave up waiting; the op keeps running. */
export class TimeoutError extends LoopsError {
  override get error_class(): string {
    return 'TimeoutError';
  }
}

export class UnknownCheckpointError extends LoopsError {
  override get error_class(): string {
    return 'UnknownCheckpointError';
  }
}

/** The model's architecture, files or tensors are not something this engine can run. */
export class UnsupportedModelError extends LoopsError {
  override get error_class(): string {
    return 'UnsupportedModelError';
  }
}

/**
 * A file (safetensors, config.json, tokenizer.json, a PEFT adapter) is malformed or hostile. Thrown
 * before any allocation larger than the file itself; the message names the file and the field.
 */
export class InvalidFileError extends LoopsError {
  override get error_class(): string {
    return 'InvalidFileError';
  }
}

/** A download failed (network down, HTTP error other than 404); the message names the URL. */
export class NetworkError extends LoopsError {
  override get error_class(): string {
    return 'NetworkError';
  }
}

/** WebGPU was asked for and is not available; the message says how to get it or what to pick instead. */
export class WebGPUUnavailableError extends LoopsError {
  override get error_class(): string {
    return 'WebGPUUnavailableError';
  }
}

type ErrorConstructor = new (message: string) => LoopsError;

const registry: Record<string, ErrorConstructor> = {
  LoopsError,
  ValidationError,
  TimeoutError,
  UnknownCheckpointError,
  UnsupportedModelError,
  InvalidFileError,
  NetworkError,
  WebGPUUnavailableError,
};

/** Turns any thrown value into its wire form. Non-Loops errors keep their JS class name. */
export function toWireError(error: unknown): WireError {
  if (error instanceof RemoteOpError) {
    return {
      error_class: error.error_class,
      message: error.message,
      cause_class: error.cause_class,
      stack: error.stack,
    };
  }
  if (error instanceof LoopsError) {
    return { error_class: error.error_class, message: error.message, stack: error.stack };
  }
  if (error instanceof Error) {
    return { error_class: error.name || 'Error', message: error.message, stack: error.stack };
  }
  return { error_class: 'Error', message: String(error) };
}

/**
 * Rebuilds a wire error on the page: a known Loops class comes back as itself; anything else
 * becomes a `RemoteOpError` whose `cause_class` names what failed in the engine.
 */
export function fromWireError(wire: WireError): LoopsError {
  if (wire.error_class === 'RemoteOpError') {
    return withStack(new RemoteOpError(wire.message, wire.cause_class), wire.stack);
  }
  const known = registry[wire.error_class];
  if (known) return withStack(new known(wire.message), wire.stack);
  return withStack(new RemoteOpError(wire.message, wire.error_class), wire.stack);
}

function withStack<E extends Error>(error: E, stack: string | undefined): E {
  if (stack) error.stack = `${error.stack ?? ''}\n--- engine stack ---\n${stack}`;
  return error;
}
