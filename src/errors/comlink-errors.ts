/**
 * Makes typed errors survive comlink: the engine side sends the `WireError` form, the page side
 * rebuilds the same `LoopsError` class. Both ends call `installErrorTransfer()` once; it replaces
 * comlink's own 'throw' handler, which would flatten every error to a plain `Error`.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { fromWireError, toWireError, type WireError } from './loops-errors';

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  const original = transferHandlers.get('throw');
  if (!original) throw new Error("comlink has no 'throw' transfer handler to replace");
  const handler: TransferHandler<{ value: unknown }, WireError> = {
    canHandle: (value): value is { value: unknown } => original.canHandle(value),
    serialize: ({ value }) => [toWireError(value), []],
    deserialize: (wire) => {
      throw fromWireError(wire);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
  installed = true;
}
