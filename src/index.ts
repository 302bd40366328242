/**
 * `loops-web`: the Loops training API in the browser. Everything a Loops script imports, with the
 * Loops names. In browsers the engine runs in a Worker; in Node import from `loops-web/node`.
 */
export {
  ServiceClient,
  registerPlacement,
  type ServiceClientOptions,
  type Placement,
} from './client/service-client';
export { TrainingClient } from './client/training-client';
export { SamplingClient } from './client/sampling-client';
export { OperationFuture, ForwardBackwardFuture, type SubmittedOp } from './client/future';
export { comlinkLink, inProcessLink, workerLink, type EngineLink } from './client/engine-link';
export { remoteLink, type RemoteOptions } from './client/remote/remote-link';
export { RemoteServiceError, type RemoteErrorCategory } from './client/remote/errors';
export type { RemoteTuning } from './client/remote/http';
export type { MetricRecord, MetricListener } from './client/metrics';
export {
  ModelInput,
  EncodedTextChunk,
  ImageChunk,
  type ModelInputChunk,
} from './client/types/model-input';
export { TensorData, type TensorDtype, type NestedNumbers } from './client/types/tensor-data';
export { Datum } from './client/types/datum';
export { SamplingParams, AdamParams, WandbConfig } from './client/types/params';
export type { ForwardBackwardOutput } from './client/types/forward-backward-output';
export type * from './protocol/responses';
export type { BackendReport, BackendRequest } from './protocol/engine-api';
export { TextTokenizer as Tokenizer } from './core/tokenizer';
export {
  LoopsError,
  ValidationError,
  RemoteOpError,
  TimeoutError,
  UnknownCheckpointError,
  UnsupportedModelError,
  WebGPUUnavailableError,
  InvalidFileError,
  NetworkError,
} from './errors/loops-errors';
