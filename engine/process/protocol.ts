// The typed, versioned messages between the extension host (engine/process/client.ts) and the inference
// process (engine/process/server.ts). Both sides import this module and validate every message they
// receive, so a malformed or mismatched peer is an error with a reason, never undefined behaviour.
import { MAX_VERIFY_TOKENS, type BackendName } from '../model/backend.js';
import { defaultSampling, type Sampling } from '../model/sampler.js';

export type { Sampling };

/** Bumped whenever a message changes shape; checked once at the handshake. */
export const PROTOCOL_VERSION = 5;

/** Exit status the server uses after its GPU device was lost, so the client restarts it at once. */
export const EXIT_DEVICE_LOST = 75;

/** What a request samples with when it names nothing: greedy, with llama.cpp's defaults for the rest. */
export const GREEDY: Readonly<Sampling> = Object.freeze({ ...defaultSampling, temperature: 0 });

/** Limits every generating request carries. */
export interface Generation {
  /** Tokens to generate at most; a completion may ask for 0: it only prefills (see CompleteRequest). */
  maxTokens: number;
  /** Generation ends before the first occurrence of any of these strings (not included in the text). */
  stop?: string[];
  /** Wall-clock budget from receipt of the request; ends with reason 'time'. */
  timeBudgetMs?: number;
  /** Once this many ms from receipt have passed, generation ends at the next token that contains a newline (reason 'time'). */
  lineBudgetMs?: number;
  /** Reuse the slot's cached prefix (default true). False prefills the whole prompt, for measurements. */
  cache?: boolean;
  sampling?: Partial<Sampling>;
  /**
   * Most draft tokens a decoding step checks (speculative decoding from the prompt's own tokens; the
   * output is the same either way). 0 turns it off; absent: the server's default, used where it pays.
   */
  speculate?: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * What a loaded model serves. The process holds at most one model per role: the completion model
 * (FIM requests; also chat and explain while no chat model is loaded) and an optional chat model.
 */
export type ModelRole = 'complete' | 'chat';
export const MODEL_ROLES: readonly ModelRole[] = ['complete', 'chat'];

export interface HelloRequest { type: 'hello'; version: number }
/** Loads a model for `role` (default 'complete'), replacing (and first freeing) the one that role had. */
export interface LoadRequest {
  type: 'load'; id: string; model: string; backend: BackendName; nCtx: number;
  role?: ModelRole;
  /** Device memory the model may use (webgpu); over it the load fails with 'out-of-memory' before allocating. */
  maxDeviceBytes?: number;
}
/** Frees the model of `role` (its GPU memory with it); requests running on it end with 'unloaded'. */
export interface UnloadRequest { type: 'unload'; id: string; role: ModelRole }
/** Text from another file (or the clipboard) that goes before the document, under its own name. */
export interface ContextChunk { name: string; text: string }
/**
 * Fill-in-the-middle completion at the cursor: the document is prefix + suffix. `context` chunks go
 * first (repo-level FIM, when the model has a file separator token), so a stable list stays cached.
 * maxTokens 0 only prefills the prompt into the slot's cache (pre-loading while the user is idle).
 * `alternatives` > 1 answers that many continuations, each from a different first token.
 */
export interface CompleteRequest extends Generation {
  type: 'complete'; id: string; prefix: string; suffix: string; fileName?: string; language?: string;
  context?: ContextChunk[]; repoName?: string; alternatives?: number;
}
/** Checks that this process can compute on the GPU and read results back (what fails under Electron). */
export interface ProbeRequest { type: 'probe'; id: string }
/** Explains a selection through the chat path. */
export interface ExplainRequest extends Generation { type: 'explain'; id: string; code: string; fileName?: string; language?: string }
export interface ChatRequest extends Generation { type: 'chat'; id: string; messages: ChatMessage[] }
/** Stops request `id` (a chat's stop button, or dropping a completion); it answers 'cancelled'. */
export interface CancelRequest { type: 'cancel'; id: string }
/**
 * Counts the tokens of each text with the tokenizer of the model that serves chat (the chat model
 * while one is loaded, else the completion model): plain text, no BOS, special-token text not parsed.
 */
export interface CountRequest { type: 'count'; id: string; texts: string[] }
export interface StatsRequest { type: 'stats'; id: string }
export interface ShutdownRequest { type: 'shutdown'; id: string }

export type Request = HelloRequest | LoadRequest | UnloadRequest | ProbeRequest | CompleteRequest | ExplainRequest | ChatRequest | CancelRequest | CountRequest | StatsRequest | ShutdownRequest;
export type GenerateRequest = CompleteRequest | ExplainRequest | ChatRequest;

export interface LoadReport {
  model: string;
  /** What the model was loaded for. */
  role: ModelRole;
  name: string;
  arch: string;
  /** general.file_type as llama.cpp names it (Q4_0, Q8_0, Q4_K - Medium, ...), or the weights' type. */
  fileType: string;
  backend: BackendName;
  /** What computes: the GPU adapter's description, or 'cpu'. */
  device: string;
  nCtx: number;
  nSeq: number;
  nVocab: number;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  fileBytes: number;
  weightBytes: number;
  kvBytes: number;
  scratchBytes: number;
  loadMs: number;
  /** Of loadMs, the warm-up that runs every kernel once (Backend.warmUp). */
  warmUpMs?: number;
  /** The model's FIM tokens were found: completion requests are possible. */
  fim: boolean;
  /** The model has a usable chat template, its own or a built-in one: chat and explain requests are possible. */
  chat: boolean;
  /** The built-in template standing in for a missing tokenizer.chat_template ('chatml', 'llama3', ...); absent when the file has its own. */
  chatFallback?: string;
}

export interface Timings {
  /** Tokens in the prompt as laid out (after trimming). */
  promptTokens: number;
  /** Tokens run through the model to build the prompt's KV cache. */
  prefillTokens: number;
  /** Prompt tokens whose KV entries were kept from the previous request in the same slot. */
  reusedTokens: number;
  /** Characters of the document left out of the prompt to fit the context (completion only). */
  trimmedChars: number;
  prefillMs: number;
  /** From receipt of the request to its first token; -1 when no token came. */
  ttftMs: number;
  decodeTokens: number;
  decodeTokPerS: number;
  /** Forwards after the first token: one per token, fewer where drafts were kept. */
  decodeSteps: number;
  /** Draft tokens checked, and those kept (each a decode step saved). */
  draftTokens: number;
  draftAccepted: number;
  totalMs: number;
}

export type DoneReason = 'eos' | 'stop' | 'length' | 'time' | 'cancelled' | 'superseded';
export const DONE_REASONS: readonly DoneReason[] = ['eos', 'stop', 'length', 'time', 'cancelled', 'superseded'];

export type ErrorCode =
  | 'version-mismatch' | 'bad-request' | 'not-loaded' | 'load-failed' | 'out-of-memory' | 'device-lost'
  | 'context-overflow' | 'no-fim' | 'no-chat-template' | 'template-error' | 'process-exited' | 'unloaded'
  | 'shutting-down' | 'gpu-unavailable' | 'internal';
export const ERROR_CODES: readonly ErrorCode[] = [
  'version-mismatch', 'bad-request', 'not-loaded', 'load-failed', 'out-of-memory', 'device-lost',
  'context-overflow', 'no-fim', 'no-chat-template', 'template-error', 'process-exited', 'unloaded',
  'shutting-down', 'gpu-unavailable', 'internal',
];

/** What the probe found: the runtime the process runs on and the adapter that computed and read back. */
export interface ProbeReport {
  /** process.version of the inference process. */
  node: string;
  /** process.versions.electron when the process runs on Electron's Node. */
  electron?: string;
  platform: string;
  arch: string;
  adapter: string;
  software: boolean;
  /** Time to create the device, run the copy and read it back. */
  ms: number;
}

export interface ServerStats {
  pid: number;
  uptimeMs: number;
  /** The completion model. */
  model: LoadReport | null;
  /** The separate chat model, when one is loaded. */
  chatModel: LoadReport | null;
  /** Tokens currently cached per slot in use ('complete', and 'chat' on whichever model serves chat). */
  slots: { name: string; tokens: number }[];
  requests: number;
  /** Requests received and not yet answered with their final message. */
  active: number;
  prefillTokens: number;
  reusedTokens: number;
  rssBytes: number;
  /**
   * GPU pipelines compiled, and dispatched for the first time (where drivers such as lavapipe
   * compile them), by this process so far: a loaded model's warm-up leaves none for requests.
   */
  pipelines: { compiled: number; firstUses: number };
}

export interface HelloResponse { type: 'hello'; version: number; pid: number }
export interface ProgressResponse { type: 'progress'; id: string; loadedBytes: number; totalBytes: number }
export interface LoadedResponse { type: 'loaded'; id: string; report: LoadReport }
/** `freed`: a model was loaded for the role (false: there was nothing to unload). */
export interface UnloadedResponse { type: 'unloaded'; id: string; role: ModelRole; freed: boolean }
/** `text` is what the token adds to the visible output; it may be '' (held back for UTF-8 or a possible stop string). */
export interface TokenResponse { type: 'token'; id: string; token: number; text: string }
/**
 * `text` is the whole answer: the tokens' texts plus anything held back for a stop string that never
 * completed. A completion asked for alternatives lists the others (token messages stream only `text`).
 */
export interface DoneResponse { type: 'done'; id: string; reason: DoneReason; text: string; timings: Timings; alternatives?: string[] }
/** id is null for errors that belong to no request (a bad message without an id, a lost device while idle). */
export interface ErrorResponse {
  type: 'error'; id: string | null; code: ErrorCode; message: string;
  /** For 'out-of-memory' and 'context-overflow': what was needed and what there is (bytes or tokens). */
  needed?: number; available?: number;
}
export interface StatsResponse { type: 'stats'; id: string; stats: ServerStats }
/** The token count of each text of a count request, in order. */
export interface CountResponse { type: 'count'; id: string; counts: number[] }
export interface ProbeResponse { type: 'probe'; id: string; report: ProbeReport }
export interface ByeResponse { type: 'bye'; id: string }

export type Response = HelloResponse | ProgressResponse | LoadedResponse | UnloadedResponse | ProbeResponse | TokenResponse | DoneResponse | ErrorResponse | StatsResponse | CountResponse | ByeResponse;

/** Whether `r` is the last message its request will get. */
export function isFinal(r: Response): boolean {
  return r.type === 'loaded' || r.type === 'unloaded' || r.type === 'probe' || r.type === 'done' || r.type === 'error' || r.type === 'stats' || r.type === 'count' || r.type === 'bye';
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// Bounds keep one bad message from making the server allocate or loop without limit.
export const LIMITS = {
  text: 64 << 20, maxTokens: 1 << 20, stops: 16, stopLength: 256, messages: 4096, timeBudgetMs: 24 * 3600_000, nCtx: 1 << 20,
  chunks: 64, alternatives: 8, speculate: MAX_VERIFY_TOKENS - 1, countTexts: 1024,
};

type Obj = Record<string, unknown>;

class Fields {
  constructor(private readonly o: Obj, private readonly what: string) {}

  private fail(key: string, want: string): never {
    throw new ProtocolError(`${this.what}: field "${key}" must be ${want}, got ${describe(this.o[key])}`);
  }

  str(key: string, max = LIMITS.text): string {
    const v = this.o[key];
    if (typeof v !== 'string' || v.length > max) this.fail(key, `a string of at most ${max} characters`);
    return v;
  }

  optStr(key: string): string | undefined {
    return this.o[key] === undefined ? undefined : this.str(key, 4096);
  }

  int(key: string, min: number, max: number): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `an integer in ${min}..${max}`);
    return v;
  }

  num(key: string, min = -Infinity, max = Infinity): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(key, `a finite number in ${min}..${max}`);
    return v;
  }

  positive(key: string, max: number): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) this.fail(key, `a number in (0, ${max}]`);
    return v;
  }

  optBool(key: string): boolean | undefined {
    const v = this.o[key];
    if (v !== undefined && typeof v !== 'boolean') this.fail(key, 'a boolean');
    return v as boolean | undefined;
  }

  oneOf<T extends string>(key: string, options: readonly T[]): T {
    const v = this.o[key];
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) this.fail(key, `one of ${options.join(', ')}`);
    return v as T;
  }

  obj(key: string): Obj {
    const v = this.o[key];
    if (!isObj(v)) this.fail(key, 'an object');
    return v;
  }

  id(): string {
    return this.str('id', 256);
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  return typeof v === 'object' ? (v === null ? 'null' : 'an object') : `${typeof v} ${String(v)}`;
}

function generation(f: Fields, o: Obj): Generation {
  const g: Generation = { maxTokens: f.int('maxTokens', o.type === 'complete' ? 0 : 1, LIMITS.maxTokens) };
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop) || o.stop.length > LIMITS.stops || !o.stop.every((s) => typeof s === 'string' && s.length > 0 && s.length <= LIMITS.stopLength)) {
      throw new ProtocolError(`${o.type} request: field "stop" must be at most ${LIMITS.stops} non-empty strings of at most ${LIMITS.stopLength} characters, got ${describe(o.stop)}`);
    }
    g.stop = [...o.stop] as string[];
  }
  if (o.timeBudgetMs !== undefined) g.timeBudgetMs = f.num('timeBudgetMs', 1, LIMITS.timeBudgetMs);
  if (o.lineBudgetMs !== undefined) g.lineBudgetMs = f.num('lineBudgetMs', 0, LIMITS.timeBudgetMs);
  const cache = f.optBool('cache');
  if (cache !== undefined) g.cache = cache;
  if (o.speculate !== undefined) g.speculate = f.int('speculate', 0, LIMITS.speculate);
  if (o.sampling !== undefined) {
    const s = new Fields(f.obj('sampling'), `${o.type} request sampling`);
    const so = o.sampling as Obj;
    const sampling: Partial<Sampling> = {};
    if (so.temperature !== undefined) sampling.temperature = s.num('temperature', 0, 100);
    if (so.topK !== undefined) sampling.topK = s.int('topK', 0, 1 << 20);
    if (so.topP !== undefined) sampling.topP = s.num('topP', 0, 1);
    if (so.minP !== undefined) sampling.minP = s.num('minP', 0, 1);
    if (so.repeatPenalty !== undefined) sampling.repeatPenalty = s.positive('repeatPenalty', 100);
    if (so.repeatLastN !== undefined) sampling.repeatLastN = s.int('repeatLastN', -1, LIMITS.nCtx);
    if (so.seed !== undefined) sampling.seed = s.int('seed', 0, 2 ** 32 - 1);
    g.sampling = sampling;
  }
  return g;
}

function fileInfo(f: Fields): { fileName?: string; language?: string } {
  const r: { fileName?: string; language?: string } = {};
  const fileName = f.optStr('fileName');
  const language = f.optStr('language');
  if (fileName !== undefined) r.fileName = fileName;
  if (language !== undefined) r.language = language;
  return r;
}

/** Validates a message sent to the server. */
export function parseRequest(m: unknown): Request {
  if (!isObj(m)) throw new ProtocolError(`request must be an object, got ${describe(m)}`);
  const f = new Fields(m, `${String(m.type)} request`);
  switch (m.type) {
    case 'hello':
      return { type: 'hello', version: f.int('version', 0, 2 ** 31) };
    case 'load': {
      const r: LoadRequest = { type: 'load', id: f.id(), model: f.str('model', 4096), backend: f.oneOf('backend', ['webgpu', 'reference'] as const), nCtx: f.int('nCtx', 16, LIMITS.nCtx) };
      if (m.role !== undefined) r.role = f.oneOf('role', MODEL_ROLES);
      if (m.maxDeviceBytes !== undefined) r.maxDeviceBytes = f.num('maxDeviceBytes', 0);
      return r;
    }
    case 'unload':
      return { type: 'unload', id: f.id(), role: f.oneOf('role', MODEL_ROLES) };
    case 'probe':
      return { type: 'probe', id: f.id() };
    case 'complete': {
      const r: CompleteRequest = { type: 'complete', id: f.id(), prefix: f.str('prefix'), suffix: f.str('suffix'), ...fileInfo(f), ...generation(f, m) };
      if (m.context !== undefined) {
        if (!Array.isArray(m.context) || m.context.length > LIMITS.chunks) {
          throw new ProtocolError(`complete request: field "context" must be at most ${LIMITS.chunks} chunks, got ${describe(m.context)}`);
        }
        r.context = m.context.map((x: unknown, i: number): ContextChunk => {
          if (!isObj(x)) throw new ProtocolError(`complete request: context[${i}] must be an object, got ${describe(x)}`);
          const cf = new Fields(x, `complete request context[${i}]`);
          return { name: cf.str('name', 4096), text: cf.str('text') };
        });
      }
      const repoName = f.optStr('repoName');
      if (repoName !== undefined) r.repoName = repoName;
      if (m.alternatives !== undefined) r.alternatives = f.int('alternatives', 1, LIMITS.alternatives);
      return r;
    }
    case 'explain':
      return { type: 'explain', id: f.id(), code: f.str('code'), ...fileInfo(f), ...generation(f, m) };
    case 'chat': {
      const id = f.id();
      if (!Array.isArray(m.messages) || m.messages.length === 0 || m.messages.length > LIMITS.messages) {
        throw new ProtocolError(`chat request: field "messages" must be 1..${LIMITS.messages} messages, got ${describe(m.messages)}`);
      }
      const messages = m.messages.map((x: unknown, i: number): ChatMessage => {
        if (!isObj(x)) throw new ProtocolError(`chat request: messages[${i}] must be an object, got ${describe(x)}`);
        const mf = new Fields(x, `chat request messages[${i}]`);
        return { role: mf.oneOf('role', ['system', 'user', 'assistant'] as const), content: mf.str('content') };
      });
      return { type: 'chat', id, messages, ...generation(f, m) };
    }
    case 'cancel':
      return { type: 'cancel', id: f.id() };
    case 'count': {
      const id = f.id();
      if (!Array.isArray(m.texts) || m.texts.length > LIMITS.countTexts || !m.texts.every((t) => typeof t === 'string' && t.length <= LIMITS.text)) {
        throw new ProtocolError(`count request: field "texts" must be at most ${LIMITS.countTexts} strings, got ${describe(m.texts)}`);
      }
      return { type: 'count', id, texts: [...m.texts] as string[] };
    }
    case 'stats':
      return { type: 'stats', id: f.id() };
    case 'shutdown':
      return { type: 'shutdown', id: f.id() };
    default:
      throw new ProtocolError(`unknown request type ${describe(m.type)}`);
  }
}

function report(o: Obj): LoadReport {
  const f = new Fields(o, 'load report');
  const n = (k: string) => f.num(k, 0);
  const r: LoadReport = {
    model: f.str('model', 4096), role: f.oneOf('role', MODEL_ROLES), name: f.str('name', 4096), arch: f.str('arch', 64), fileType: f.str('fileType', 64),
    backend: f.oneOf('backend', ['webgpu', 'reference'] as const), device: f.str('device', 4096),
    nCtx: n('nCtx'), nSeq: n('nSeq'), nVocab: n('nVocab'), nLayer: n('nLayer'), nEmbd: n('nEmbd'), nHead: n('nHead'), nHeadKv: n('nHeadKv'),
    fileBytes: n('fileBytes'), weightBytes: n('weightBytes'),
    kvBytes: n('kvBytes'), scratchBytes: n('scratchBytes'), loadMs: n('loadMs'), fim: f.optBool('fim') === true, chat: f.optBool('chat') === true,
  };
  const chatFallback = f.optStr('chatFallback');
  if (chatFallback !== undefined) r.chatFallback = chatFallback;
  if (o.warmUpMs !== undefined) r.warmUpMs = n('warmUpMs');
  return r;
}

function timings(o: Obj): Timings {
  const f = new Fields(o, 'timings');
  const n = (k: string) => f.num(k, -1);
  return {
    promptTokens: n('promptTokens'), prefillTokens: n('prefillTokens'), reusedTokens: n('reusedTokens'), trimmedChars: n('trimmedChars'),
    prefillMs: n('prefillMs'), ttftMs: n('ttftMs'), decodeTokens: n('decodeTokens'), decodeTokPerS: n('decodeTokPerS'),
    decodeSteps: n('decodeSteps'), draftTokens: n('draftTokens'), draftAccepted: n('draftAccepted'), totalMs: n('totalMs'),
  };
}

/** Validates a message sent to the client. */
export function parseResponse(m: unknown): Response {
  if (!isObj(m)) throw new ProtocolError(`response must be an object, got ${describe(m)}`);
  const f = new Fields(m, `${String(m.type)} response`);
  switch (m.type) {
    case 'hello':
      return { type: 'hello', version: f.int('version', 0, 2 ** 31), pid: f.int('pid', 0, 2 ** 31) };
    case 'progress':
      return { type: 'progress', id: f.id(), loadedBytes: f.num('loadedBytes', 0), totalBytes: f.num('totalBytes', 0) };
    case 'loaded':
      return { type: 'loaded', id: f.id(), report: report(f.obj('report')) };
    case 'unloaded': {
      const freed = f.optBool('freed');
      if (freed === undefined) throw new ProtocolError('unloaded response: field "freed" must be a boolean, got nothing');
      return { type: 'unloaded', id: f.id(), role: f.oneOf('role', MODEL_ROLES), freed };
    }
    case 'token':
      return { type: 'token', id: f.id(), token: f.int('token', 0, 2 ** 31), text: f.str('text') };
    case 'probe': {
      const p = new Fields(f.obj('report'), 'probe report');
      const o = m.report as Obj;
      const report: ProbeReport = {
        node: p.str('node', 64), platform: p.str('platform', 64), arch: p.str('arch', 64), adapter: p.str('adapter', 4096),
        software: p.optBool('software') === true, ms: p.num('ms', 0),
      };
      if (o.electron !== undefined) report.electron = p.str('electron', 64);
      return { type: 'probe', id: f.id(), report };
    }
    case 'done': {
      const r: DoneResponse = { type: 'done', id: f.id(), reason: f.oneOf('reason', DONE_REASONS), text: f.str('text'), timings: timings(f.obj('timings')) };
      if (m.alternatives !== undefined) {
        if (!Array.isArray(m.alternatives) || m.alternatives.length > LIMITS.alternatives || !m.alternatives.every((a) => typeof a === 'string' && a.length <= LIMITS.text)) {
          throw new ProtocolError(`done response: field "alternatives" must be at most ${LIMITS.alternatives} strings, got ${describe(m.alternatives)}`);
        }
        r.alternatives = [...m.alternatives] as string[];
      }
      return r;
    }
    case 'error': {
      const id = m.id === null ? null : f.id();
      const r: ErrorResponse = { type: 'error', id, code: f.oneOf('code', ERROR_CODES), message: f.str('message') };
      if (m.needed !== undefined) r.needed = f.num('needed', 0);
      if (m.available !== undefined) r.available = f.num('available', 0);
      return r;
    }
    case 'stats': {
      const s = f.obj('stats');
      const sf = new Fields(s, 'stats');
      if (!Array.isArray(s.slots)) throw new ProtocolError(`stats: field "slots" must be an array, got ${describe(s.slots)}`);
      return {
        type: 'stats', id: f.id(),
        stats: {
          pid: sf.int('pid', 0, 2 ** 31), uptimeMs: sf.num('uptimeMs', 0), model: s.model === null ? null : report(sf.obj('model')),
          chatModel: s.chatModel === null ? null : report(sf.obj('chatModel')),
          slots: s.slots.map((x: unknown, i: number) => {
            if (!isObj(x)) throw new ProtocolError(`stats: slots[${i}] must be an object`);
            const xf = new Fields(x, `stats slots[${i}]`);
            return { name: xf.str('name', 64), tokens: xf.int('tokens', 0, LIMITS.nCtx) };
          }),
          requests: sf.num('requests', 0), active: sf.num('active', 0), prefillTokens: sf.num('prefillTokens', 0), reusedTokens: sf.num('reusedTokens', 0), rssBytes: sf.num('rssBytes', 0),
          pipelines: (() => {
            const pf = new Fields(sf.obj('pipelines'), 'stats pipelines');
            return { compiled: pf.num('compiled', 0), firstUses: pf.num('firstUses', 0) };
          })(),
        },
      };
    }
    case 'count': {
      const id = f.id();
      if (!Array.isArray(m.counts) || m.counts.length > LIMITS.countTexts || !m.counts.every((c) => Number.isInteger(c) && c >= 0)) {
        throw new ProtocolError(`count response: field "counts" must be at most ${LIMITS.countTexts} non-negative integers, got ${describe(m.counts)}`);
      }
      return { type: 'count', id, counts: [...m.counts] as number[] };
    }
    case 'bye':
      return { type: 'bye', id: f.id() };
    default:
      throw new ProtocolError(`unknown response type ${describe(m.type)}`);
  }
}
