/**
 * GPU device loss. A WebGPU device can be lost at any time (driver reset, the GPU process crashing,
 * `device.destroy()`); after that nothing on it completes, and a readback may never resolve. The
 * engine runs each op through `guardDevice`, which rejects the op as soon as the device is lost,
 * with a `RemoteOpError` whose `cause_class` is `DeviceLostError` and whose message says how to
 * recover (a new ServiceClient, resumed from the last `save_state`). Ops submitted after the loss
 * fail at once. On backends without a device (wasm, cpu) the guard only runs the op.
 */
import { RemoteOpError } from '../errors/loops-errors';

export const DEVICE_LOST = 'DeviceLostError';

let lost: { reason: string; message: string } | null = null;
let device: GPUDevice | null = null;
const waiting = new Set<(error: RemoteOpError) => void>();

/** Starts watching `gpu` (the device the webgpu backend runs on) for loss. */
export function watchDeviceLoss(gpu: GPUDevice): void {
  device = gpu;
  lost = null;
  void gpu.lost.then((info) => {
    if (device !== gpu) return;
    lost = { reason: String(info.reason ?? 'unknown'), message: info.message ?? '' };
    const error = deviceLostError() as RemoteOpError;
    for (const reject of waiting) reject(error);
    waiting.clear();
  });
}

/** The error ops get once the device is lost; null while it is fine (or there is none). */
export function deviceLostError(): RemoteOpError | null {
  if (!lost) return null;
  const detail = lost.message ? `: ${lost.message}` : '';
  return new RemoteOpError(
    `the GPU device was lost (${lost.reason}${detail}); the engine cannot run on it any more. ` +
      'Create a new ServiceClient and resume with ' +
      'create_training_client_from_state_with_optimizer(<your last save_state path>).',
    DEVICE_LOST,
  );
}

/** How long a failed op waits for a pending device loss to be reported before giving up on it. */
const LOSS_GRACE_MS = 500;

/** Resolves when the watched device's loss has been recorded, or after `ms`, whichever is first. */
function lossSettled(ms: number): Promise<void> {
  const gpu = device;
  if (!gpu) return Promise.resolve();
  return Promise.race([
    gpu.lost.then(() => new Promise<void>((resolve) => setTimeout(resolve, 0))),
    new Promise<void>((resolve) => setTimeout(resolve, ms)),
  ]);
}

/**
 * Runs `op`, rejecting with the device-loss error as soon as the device is lost (even if the op
 * would never settle); an op that fails because of the loss gets that error too.
 */
export async function guardDevice<T>(op: () => Promise<T> | T): Promise<T> {
  const already = deviceLostError();
  if (already) throw already;
  if (!device) return op();
  let reject: (error: RemoteOpError) => void = () => undefined;
  const onLoss = new Promise<never>((_, r) => {
    reject = r;
  });
  waiting.add(reject);
  try {
    return await Promise.race([Promise.resolve().then(op), onLoss]);
  } catch (error) {
    // A destroyed device aborts in-flight readbacks (AbortError) before `device.lost` settles;
    // give the loss a moment to arrive so the op reports the cause, not its symptom.
    if (!deviceLostError()) await lossSettled(LOSS_GRACE_MS);
    throw deviceLostError() ?? error;
  } finally {
    waiting.delete(reject);
  }
}
