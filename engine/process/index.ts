// The inference process's surface: the one module the extension (and any other host) imports.
// Everything behind it runs in the forked process; only the client and the protocol's types cross.
export { InferenceClient, ServerError } from './client.js';
export type { ClientOptions, ClientEvents, ExitInfo, GenerationHandle, CompleteOptions, ExplainOptions, ChatOptions, LoadOptions } from './client.js';
export { PROTOCOL_VERSION, EXIT_DEVICE_LOST, GREEDY, DONE_REASONS, ERROR_CODES, LIMITS, MODEL_ROLES, ProtocolError } from './protocol.js';
export type {
  Sampling, Generation, ChatMessage, ContextChunk, LoadReport, ModelRole, ProbeReport, Timings, DoneReason, DoneResponse, ErrorResponse, ErrorCode, ServerStats,
} from './protocol.js';
// Models: the Hub (download with progress and cancel, into the shared Hugging Face cache), models
// already on disk, the curated catalog and the fit check before loading. None of it opens a GPU.
export { pullFile } from '../models/download.js';
export type { DownloadProgress, PullOptions, PullResult } from '../models/download.js';
export { listFiles, repoCommit, hubEndpoint, hubToken } from '../models/hub.js';
export type { HubFile, HubOptions } from '../models/hub.js';
export type { HttpOptions } from '../models/http.js';
export { HubError } from '../models/hub-error.js';
export type { HubErrorCode, HubErrorDetail } from '../models/hub-error.js';
export { hubCacheDir } from '../models/hub-cache.js';
export { discoverModels, modelRoots } from '../models/discovery.js';
export type { Described, Discovery, DiscoveryMemo, DiscoveryOptions, FoundModel, ModelRoot, ModelSource, SkippedFile } from '../models/discovery.js';
export { CATALOG, catalogFiles, defaultEntry } from '../models/catalog.js';
export type { CatalogEntry, CatalogFile, CatalogQuant, CatalogRole, CatalogSize } from '../models/catalog.js';
export { checkFit, estimateFit, DEFAULT_MAX_BINDING } from '../models/fit.js';
export type { FitDevice, FitOptions, FitReport } from '../models/fit.js';
