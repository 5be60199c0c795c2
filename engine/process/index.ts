// The inference process's surface: the one module the extension (and any other host) imports.
// Everything behind it runs in the forked process; only the client and the protocol's types cross.
export { InferenceClient, ServerError } from './client.js';
export type { ClientOptions, ClientEvents, ExitInfo, GenerationHandle, CompleteOptions, ExplainOptions, ChatOptions, LoadOptions } from './client.js';
export { PROTOCOL_VERSION, EXIT_DEVICE_LOST, GREEDY, DONE_REASONS, ERROR_CODES, LIMITS, ProtocolError } from './protocol.js';
export type {
  Sampling, Generation, ChatMessage, ContextChunk, LoadReport, ProbeReport, Timings, DoneReason, DoneResponse, ErrorResponse, ErrorCode, ServerStats,
} from './protocol.js';
