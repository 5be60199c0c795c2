// The inference process. The extension host forks it (engine/client.ts); it loads the model once
// and answers completion, explain and chat requests over the IPC channel (engine/protocol.ts).
// It holds a model per role: the completion model, which also serves chat and explain, and an
// optional chat model that takes those over while it is loaded. Loading or unloading one role's
// model waits for the requests running on it and frees it first; the other role's requests go on.
// One forward runs at a time. Between forwards it yields to the event loop so new messages land:
// a newer completion supersedes the running one at the next token boundary, a cancel stops its
// request, and a completion that arrives during a chat runs first (the chat then resumes in its
// own slot, whose cache the completion does not touch). Every request gets exactly one final
// message: done, or error.
import { readGGUF, type GGUF } from '../gguf/gguf.js';
import { FILE_TYPE_NAMES, typeName } from '../gguf/ggml.js';
import { escaped } from '../gguf/quoted.js';
import { loadConfig, tensorName } from '../model/model.js';
import { Dispatch, Gpu } from '../gpu/gpu.js';
import type { Backend } from '../model/backend.js';
import { openBackend } from '../model/open.js';
import { Tokenizer, StreamDecoder } from '../tokenizer/tokenizer.js';
import { Sampler } from '../model/sampler.js';
import { DEFAULT_DRAFT_TOKENS, DraftPolicy, Speculator } from '../model/speculation.js';
import { TemplateError, answerStops, modelChatTemplate, renderChat, specialTokens, type ChatTemplate } from '../prompt/chat-template.js';
import { FimLayout } from '../prompt/fim.js';
import { Slot } from './slot.js';
import {
  EXIT_DEVICE_LOST, GREEDY, PROTOCOL_VERSION, parseRequest,
  type ChatMessage, type DoneReason, type DoneResponse, type ErrorCode, type ErrorResponse, type GenerateRequest, type LoadReport,
  type LoadRequest, type ModelRole, type ProbeReport, type Response, type ServerStats, type Timings,
} from './protocol.js';

/** Prompt tokens per forward while prefilling; between chunks the server checks for newer requests. */
const PREFILL_CHUNK = 512;
/** A prefill-only completion (pre-loading while the user is idle) yields this often, so a keystroke barely waits. */
const PRELOAD_CHUNK = 64;

interface Model {
  report: LoadReport;
  backend: Backend;
  tokenizer: Tokenizer;
  fim?: FimLayout;
  /** Absent when the file's template does not parse; chatError says why. */
  chat?: Chat;
  chatError?: string;
  /** A chat model has no completion slot. */
  slots: { complete?: Slot; chat: Slot };
  /** Jobs running on it (a chat paused at a token boundary while a completion runs counts too). */
  busy: number;
  /** Called once busy drops to 0. */
  settled: (() => void)[];
}

/** The chat template, and where its answers end besides the vocabulary's end-of-generation tokens. */
interface Chat {
  template: ChatTemplate;
  stops: { ids: number[]; texts: string[] };
}

/** An error that ends one request (or all of them), with its protocol code. */
class RequestError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly needed?: number, readonly available?: number) {
    super(message);
  }
}

/**
 * Holds back text that might be the start of a stop string, and cuts the output at the first
 * complete one. Stop strings never start inside text already sent.
 */
class StopFilter {
  private held = '';
  constructor(private readonly stops: string[]) {}

  /** Text safe to show now, and whether a stop string was reached. */
  push(piece: string): { text: string; stopped: boolean } {
    const buf = this.held + piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, buf.length); k > keep; k--) {
        if (buf.endsWith(s.slice(0, k))) { keep = k; break; }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** What is still held back, once generation ended for another reason. */
  flush(): string {
    const t = this.held;
    this.held = '';
    return t;
  }
}

class Job {
  final = false;
  started = false;
  /** The model it runs on, once started. */
  model?: Model;
  /** Set from outside: the job ends at its next token boundary with this reason or error. */
  stop?: DoneReason | RequestError;
  text = '';
  /** A completion's other continuations, when it asked for alternatives. */
  alternatives?: string[];
  readonly deadline: number;
  /** Past this, generation ends at the next token with a newline. */
  readonly lineDeadline: number;
  readonly timings: Timings = {
    promptTokens: 0, prefillTokens: 0, reusedTokens: 0, trimmedChars: 0, prefillMs: 0, ttftMs: -1, decodeTokens: 0, decodeTokPerS: 0,
    decodeSteps: 0, draftTokens: 0, draftAccepted: 0, totalMs: 0,
  };

  constructor(readonly req: GenerateRequest, readonly received: number) {
    this.deadline = req.timeBudgetMs === undefined ? Infinity : received + req.timeBudgetMs;
    this.lineDeadline = req.lineBudgetMs === undefined ? Infinity : received + req.lineBudgetMs;
  }
}

function explainMessages(code: string, language?: string, fileName?: string): ChatMessage[] {
  const lang = language ?? '';
  const where = fileName ? ` from ${fileName}` : '';
  return [{ role: 'user', content: `Explain what the following ${lang ? lang + ' ' : ''}code${where} does. Be concise.\n\n\`\`\`${lang}\n${code}\n\`\`\`` }];
}

/** The `n` highest-scoring token ids, best first. */
function topTokens(logits: Float32Array, n: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (best.length === n && logits[i] <= logits[best[n - 1]]) continue;
    let j = best.length < n ? best.length : n - 1;
    best[j] = i;
    while (j > 0 && logits[best[j - 1]] < logits[i]) {
      best[j] = best[j - 1];
      best[--j] = i;
    }
  }
  return best;
}

function isDeviceLost(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  return err?.code === 'device-lost' || (typeof err?.message === 'string' && /GPU device lost/i.test(err.message));
}

/** general.file_type as llama.cpp prints it, else the type of the first attention weight. */
function fileType(g: GGUF): string {
  const ft = g.metadata.get('general.file_type');
  if (typeof ft === 'number') return FILE_TYPE_NAMES[ft] ?? `type ${ft}`;
  const q = g.tensorByName.get(tensorName.attnQ(0));
  return q ? typeName(q.type) : 'unknown';
}

/** Maps a load failure to the protocol: out-of-memory carries needed vs available bytes. */
function loadError(id: string, e: unknown): ErrorResponse {
  const err = e as { code?: unknown; needed?: unknown; available?: unknown; message?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (err?.code === 'out-of-memory' || /needs .* of device memory .* but .* is available/.test(message)) {
    const r: ErrorResponse = { type: 'error', id, code: 'out-of-memory', message };
    if (typeof err.needed === 'number') r.needed = err.needed;
    if (typeof err.available === 'number') r.available = err.available;
    return r;
  }
  return { type: 'error', id, code: isDeviceLost(e) ? 'device-lost' : 'load-failed', message };
}

class InferenceServer {
  private models: Partial<Record<ModelRole, Model>> = {};
  /** Loads and unloads run one at a time, in the order received. */
  private loads: Promise<void> = Promise.resolve();
  /** Loads and unloads received and not yet finished, per role; requests for that role wait for them. */
  private readonly changing = new Map<ModelRole, number>();
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  /** The GPU device is gone: nothing more runs; the process is exiting. */
  private lost = false;
  /** The latest completion request; older ones are superseded. */
  private completion?: Job;
  private chats: Job[] = [];
  private readonly active = new Set<string>();
  private readonly started = performance.now();
  private readonly totals = { requests: 0, prefillTokens: 0, reusedTokens: 0 };
  /** Each slot's draft policy: what steps cost on this model, how often its drafts are kept. */
  private readonly policies = new WeakMap<Slot, DraftPolicy>();

  constructor(private readonly send: (r: Response) => void, private readonly exit: (code: number) => void) {}

  hello(): void {
    this.send({ type: 'hello', version: PROTOCOL_VERSION, pid: process.pid });
  }

  handle(raw: unknown): void {
    let req;
    try {
      req = parseRequest(raw);
    } catch (e) {
      const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : null;
      this.send({ type: 'error', id, code: 'bad-request', message: (e as Error).message });
      return;
    }
    if (req.type === 'hello') {
      if (req.version !== PROTOCOL_VERSION) {
        this.send({ type: 'error', id: null, code: 'version-mismatch', message: `client speaks protocol ${req.version}, this server speaks ${PROTOCOL_VERSION}` });
        this.exit(1);
      }
      return;
    }
    if (req.type === 'cancel') return this.cancel(req.id);
    if (this.active.has(req.id)) {
      this.send({ type: 'error', id: req.id, code: 'bad-request', message: `request id "${req.id}" is already in use by an unfinished request` });
      return;
    }
    if (this.shuttingDown || this.lost) {
      this.send({ type: 'error', id: req.id, code: this.lost ? 'device-lost' : 'shutting-down', message: `the inference process is ${this.lost ? 'restarting after losing its GPU device' : 'shutting down'}` });
      return;
    }
    switch (req.type) {
      case 'load':
      case 'unload': {
        this.active.add(req.id);
        const role = req.role ?? 'complete';
        this.changing.set(role, (this.changing.get(role) ?? 0) + 1);
        this.loads = this.loads.then(() => (req.type === 'load' ? this.load(req, role) : this.unload(req.id, role)));
        return;
      }
      case 'stats':
        this.send({ type: 'stats', id: req.id, stats: this.stats() });
        return;
      case 'count':
        this.count(req.id, req.texts);
        return;
      case 'probe':
        this.active.add(req.id);
        void this.probe(req.id);
        return;
      case 'shutdown':
        this.active.add(req.id);
        void this.shutdown(req.id);
        return;
      default:
        this.admit(new Job(req, performance.now()));
    }
  }

  /** The role whose model a job runs on: chat and explain on the chat model while one is loaded or loading. */
  private roleFor(job: Job): ModelRole {
    if (job.req.type === 'complete') return 'complete';
    return this.models.chat || this.changing.has('chat') ? 'chat' : 'complete';
  }

  /** The job's model is being loaded or unloaded: it waits. */
  private blocked(job: Job): boolean {
    return this.changing.has(this.roleFor(job));
  }

  /** Token counts with the tokenizer of the model that serves chat: cheap, no GPU work (during a generation, answered at its next token). */
  private count(id: string, texts: string[]): void {
    const role: ModelRole = this.models.chat || this.changing.has('chat') ? 'chat' : 'complete';
    const m = this.changing.has(role) ? undefined : this.models[role];
    if (!m) {
      const e = this.changing.has(role) ? new RequestError('not-loaded', `the ${role === 'chat' ? 'chat' : 'completion'} model is being loaded or unloaded`) : this.notLoaded();
      this.send({ type: 'error', id, code: e.code, message: e.message });
      return;
    }
    this.send({ type: 'count', id, counts: texts.map((t) => m.tokenizer.encode(t, { addBos: false, parseSpecial: false }).length) });
  }

  private notLoaded(): RequestError {
    return new RequestError('not-loaded', 'no model is loaded: send a load request first');
  }

  private admit(job: Job): void {
    this.active.add(job.req.id);
    this.totals.requests++;
    const role = this.roleFor(job);
    if (!this.models[role] && !this.changing.has(role)) {
      this.fail(job, this.notLoaded());
      return;
    }
    if (job.req.type === 'complete') {
      if (this.completion) this.interrupt(this.completion, 'superseded');
      this.completion = job;
    } else {
      this.chats.push(job);
    }
    void this.pump();
  }

  /** Ends a job now if it has not started, else at its next token boundary. */
  private interrupt(job: Job, why: DoneReason | RequestError): void {
    if (job.final) return;
    if (job.started) {
      job.stop ??= why;
      return;
    }
    this.dequeue(job);
    if (why instanceof RequestError) this.fail(job, why);
    else this.finish(job, why);
  }

  private cancel(id: string): void {
    const job = [this.completion, ...this.chats].find((j) => j?.req.id === id);
    if (job) this.interrupt(job, 'cancelled');
  }

  private dequeue(job: Job): void {
    if (this.completion === job) this.completion = undefined;
    this.chats = this.chats.filter((j) => j !== job);
  }

  private finish(job: Job, reason: DoneReason): void {
    if (job.final) return;
    job.final = true;
    this.active.delete(job.req.id);
    const t = job.timings;
    t.totalMs = performance.now() - job.received;
    const r: DoneResponse = { type: 'done', id: job.req.id, reason, text: job.text, timings: { ...t } };
    if (job.alternatives) r.alternatives = job.alternatives;
    this.send(r);
  }

  private fail(job: Job, e: RequestError): void {
    if (job.final) return;
    job.final = true;
    this.active.delete(job.req.id);
    const r: ErrorResponse = { type: 'error', id: job.req.id, code: e.code, message: e.message };
    if (e.needed !== undefined) r.needed = e.needed;
    if (e.available !== undefined) r.available = e.available;
    this.send(r);
  }

  private jobs(): Job[] {
    return [...(this.completion ? [this.completion] : []), ...this.chats];
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.lost) return;
    this.pumping = true;
    try {
      for (;;) {
        const job = [this.completion, ...this.chats].find((j): j is Job => j !== undefined && !this.blocked(j));
        if (!job) break;
        await this.run(job);
      }
    } finally {
      this.pumping = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private idle(): Promise<void> {
    return this.pumping ? new Promise((r) => this.idleWaiters.push(r)) : Promise.resolve();
  }

  private async run(job: Job): Promise<void> {
    job.started = true;
    const m = this.models[this.roleFor(job)];
    job.model = m;
    try {
      if (!m) throw this.notLoaded();
      m.busy++;
      try {
        await this.generate(job, m);
      } finally {
        if (--m.busy === 0) for (const w of m.settled.splice(0)) w();
      }
    } catch (e) {
      if (e instanceof RequestError) {
        this.fail(job, e);
      } else if (isDeviceLost(e)) {
        // Nothing on this device can be trusted any more: answer everyone, then exit so the client restarts us.
        const err = new RequestError('device-lost', `${(e as Error).message}; the inference process restarts`);
        for (const j of [job, ...this.jobs()]) {
          this.dequeue(j);
          this.fail(j, err);
        }
        this.lost = true;
        this.exit(EXIT_DEVICE_LOST);
      } else {
        this.fail(job, new RequestError('internal', (e as Error)?.stack ?? String(e)));
        // The slot's cache contents are unknown after a failed forward.
        if (m) for (const s of Object.values(m.slots)) s.clear();
      }
    } finally {
      this.dequeue(job);
    }
  }

  /** Lets IPC messages in; runs completions that arrived during a chat; returns why to stop, if so. */
  private async boundary(job: Job): Promise<DoneReason | RequestError | undefined> {
    await new Promise((r) => setImmediate(r));
    if (job.req.type !== 'complete') {
      while (this.completion && !job.stop && !this.blocked(this.completion)) await this.run(this.completion);
    }
    if (job.stop) return job.stop;
    if (performance.now() > job.deadline) return 'time';
    return undefined;
  }

  private prompt(job: Job, m: Model): { tokens: number[]; slot: Slot } {
    const req = job.req;
    const nCtx = m.backend.nCtx;
    if (req.type === 'complete') {
      if (!m.fim) throw new RequestError('no-fim', `${m.report.model} has no fill-in-the-middle tokens (<|fim_prefix|> etc.): it cannot complete code at the cursor`);
      // Leave room to generate, but never more than half the context.
      const budget = nCtx - Math.min(req.maxTokens, Math.floor(nCtx / 2));
      const p = m.fim.build({ prefix: req.prefix, suffix: req.suffix, fileName: req.fileName, context: req.context, repoName: req.repoName }, budget);
      job.timings.trimmedChars = p.trimmedChars;
      if (!m.slots.complete) throw new RequestError('internal', `${m.report.model} was loaded for chat only: it has no completion slot`);
      return { tokens: p.tokens, slot: m.slots.complete };
    }
    if (!m.chat) throw new RequestError('no-chat-template', `${m.chatError}: it cannot chat or explain`);
    const messages = req.type === 'chat' ? req.messages : explainMessages(req.code, req.language, req.fileName);
    const tok = m.tokenizer;
    let text: string;
    try {
      text = renderChat(m.chat.template, messages, { ...specialTokens(tok), addGenerationPrompt: true });
    } catch (e) {
      if (e instanceof TemplateError) throw new RequestError('template-error', e.message);
      throw e;
    }
    const bosText = tok.bos !== undefined ? tok.tokenText(tok.bos) : undefined;
    const tokens = tok.encode(text, { addBos: tok.addBos && !(bosText && text.startsWith(bosText)), parseSpecial: true });
    if (tokens.length + 1 > nCtx) {
      throw new RequestError('context-overflow', `the conversation is ${tokens.length} tokens; with one token to answer it needs ${tokens.length + 1}, over the context of ${nCtx} tokens`, tokens.length + 1, nCtx);
    }
    return { tokens, slot: m.slots.chat };
  }

  private async generate(job: Job, m: Model): Promise<void> {
    const req = job.req;
    const t = job.timings;
    const { tokens: prompt, slot } = this.prompt(job, m);
    const { backend } = m;
    const plan = slot.plan(prompt, req.cache !== false);
    t.promptTokens = prompt.length;
    t.reusedTokens = plan.reuse;
    this.totals.reusedTokens += plan.reuse;
    const alternatives = req.type === 'complete' ? req.alternatives ?? 1 : 1;

    const sampler = new Sampler({ ...GREEDY, ...req.sampling });
    const step = async (tokens: number[], pos: number, history: number[]): Promise<number> => {
      const next = sampler.greedy ? await backend.forwardGreedy(slot.seq, tokens, pos) : sampler.sample(await backend.forward(slot.seq, tokens, pos), history);
      slot.ran(pos, tokens);
      return next;
    };
    const stopped = (why: DoneReason | RequestError) => {
      if (why instanceof RequestError) throw why;
      this.finish(job, why);
    };

    // Prefill in chunks, so a newer request can take over between them.
    const chunk = req.maxTokens === 0 ? PRELOAD_CHUNK : PREFILL_CHUNK;
    const tPrefill = performance.now();
    let pos = plan.reuse;
    let rest = plan.tokens;
    while (rest.length > chunk) {
      const why = await this.boundary(job);
      if (why) return stopped(why);
      await step(rest.slice(0, chunk), pos, prompt);
      pos += chunk;
      t.prefillTokens += chunk;
      this.totals.prefillTokens += chunk;
      rest = rest.slice(chunk);
    }
    const why = await this.boundary(job);
    if (why) return stopped(why);
    // Alternatives branch at the first token: the prompt's logits give each its own.
    let firsts: number[];
    if (alternatives > 1) {
      const logits = await backend.forward(slot.seq, rest, pos);
      slot.ran(pos, rest);
      firsts = topTokens(logits, alternatives);
    } else {
      firsts = [await step(rest, pos, prompt)];
    }
    pos += rest.length;
    t.prefillTokens += rest.length;
    this.totals.prefillTokens += rest.length;
    const tFirst = performance.now();
    t.prefillMs = tFirst - tPrefill;
    t.ttftMs = tFirst - job.received;
    if (req.maxTokens === 0) return stopped('length');

    // Decode steps: speculative where the backend's steps are exact for every row (Backend.maxVerifyTokens).
    let policy = this.policies.get(slot);
    if (!policy) this.policies.set(slot, (policy = new DraftPolicy(Math.max(1, backend.maxVerifyTokens))));
    const decoder = new Speculator(backend, sampler, { seq: slot.seq, most: req.speculate ?? DEFAULT_DRAFT_TOKENS, policy, ran: (p, tokens) => slot.ran(p, tokens) });

    const texts: string[] = [];
    let reason: DoneReason | RequestError = 'length';
    for (const [k, first] of firsts.entries()) {
      const end = await this.decode(job, m, { first, pos, primary: k === 0, tFirst, decoder, prompt });
      texts.push(end.text);
      if (k === 0) reason = end.reason;
      if (end.reason instanceof RequestError || end.reason === 'cancelled' || end.reason === 'superseded') {
        reason = end.reason;
        break;
      }
    }
    if (alternatives > 1) job.alternatives = texts.slice(1);
    t.decodeSteps = decoder.steps;
    t.draftTokens = decoder.drafted;
    t.draftAccepted = decoder.accepted;
    return stopped(reason);
  }

  /**
   * Decodes one continuation from `first` (already sampled) at `pos`. The primary one streams its
   * tokens and is the job's text; an alternative only returns its text. Its line budget starts with it.
   * Each of the decoder's steps determines one token or, with a draft kept, several.
   */
  private async decode(job: Job, m: Model, o: {
    first: number; pos: number; primary: boolean; tFirst: number; prompt: number[]; decoder: Speculator;
  }): Promise<{ text: string; reason: DoneReason | RequestError }> {
    const req = job.req;
    const t = job.timings;
    const { backend, tokenizer } = m;
    const decoder = new StreamDecoder(tokenizer);
    const chat = req.type === 'complete' ? undefined : m.chat;
    const stops = new StopFilter([...(req.stop ?? []), ...(chat?.stops.texts ?? [])]);
    const history = [...o.prompt];
    const lineDeadline = o.primary ? job.lineDeadline : req.lineBudgetMs === undefined ? Infinity : performance.now() + req.lineBudgetMs;
    let text = '';
    let n = 0;
    let next = o.first;
    // Where `next` goes in the cache; the tokens after it that a step already determined.
    let pos = o.pos;
    let ahead: number[] = [];
    const end = (reason: DoneReason | RequestError) => {
      // Text held back for a possible stop string is part of the answer; half a UTF-8 character is not.
      const held = stops.flush();
      text += held;
      if (o.primary) job.text += held;
      return { text, reason };
    };
    for (;;) {
      if (tokenizer.isEog(next) || chat?.stops.ids.includes(next)) return end('eos');
      history.push(next);
      n++;
      t.decodeTokens++;
      const piece = decoder.push(next);
      const out = stops.push(piece);
      text += out.text;
      if (o.primary) {
        job.text += out.text;
        this.send({ type: 'token', id: req.id, token: next, text: out.text });
      }
      if (t.decodeTokens > 1) t.decodeTokPerS = (t.decodeTokens - 1) / ((performance.now() - o.tFirst) / 1000);
      if (out.stopped) return end('stop');
      if (n >= req.maxTokens || pos >= backend.nCtx) return end('length');
      if (piece.includes('\n') && performance.now() > lineDeadline) return end('time');
      if (!ahead.length) {
        const why = await this.boundary(job);
        if (why) return end(why);
        // Drafts never run past the token budget or the context.
        ahead = await o.decoder.next(next, pos, history, Math.min(req.maxTokens - n, backend.nCtx - pos) - 1);
      }
      next = ahead.shift()!;
      pos++;
    }
  }

  /** Answers the probe: a device, a buffer written, copied and mapped back, the bytes compared. */
  private async probe(id: string): Promise<void> {
    const t0 = performance.now();
    let gpu: Gpu | undefined;
    try {
      gpu = await Gpu.create();
      const want = new Uint32Array(64).map((_, i) => (i * 2654435761) >>> 0);
      const b = gpu.buffer('probe', want.byteLength, 'scratch');
      gpu.write(b, want);
      const got = new Uint32Array(await gpu.read(b, 0, want.byteLength));
      gpu.release(b);
      const bad = want.findIndex((v, i) => got[i] !== v);
      if (bad >= 0) throw new Error(`the GPU read back ${got[bad]} at word ${bad} where ${want[bad]} was written`);
      const report: ProbeReport = {
        node: process.version, platform: process.platform, arch: process.arch,
        adapter: gpu.info.description || `${gpu.info.vendor} ${gpu.info.architecture}`.trim(), software: gpu.info.software, ms: performance.now() - t0,
      };
      if (process.versions.electron) report.electron = process.versions.electron;
      this.send({ type: 'probe', id, report });
    } catch (e) {
      const electron = process.versions.electron ? ` (this process runs on Electron ${process.versions.electron}'s Node, whose memory cage refuses the GPU's mapped buffers)` : '';
      this.send({ type: 'error', id, code: 'gpu-unavailable', message: `GPU read-back failed on Node ${process.version}${electron}: ${(e as Error)?.message ?? String(e)}` });
    } finally {
      gpu?.destroy();
      this.active.delete(id);
    }
  }

  /** Frees the role's model once the jobs running on it have stopped (they end with `why`); false when there was none. */
  private async free(role: ModelRole, why: string): Promise<boolean> {
    const m = this.models[role];
    if (!m) return false;
    const err = new RequestError('unloaded', why);
    for (const j of this.jobs()) if (j.started && j.model === m) this.interrupt(j, err);
    if (m.busy > 0) await new Promise<void>((r) => m.settled.push(r));
    delete this.models[role];
    m.backend.dispose();
    return true;
  }

  /** The role's load or unload is over: its requests run again; those left without any model fail with `err`. */
  private changed(role: ModelRole, err?: RequestError): void {
    const n = (this.changing.get(role) ?? 1) - 1;
    if (n > 0) this.changing.set(role, n);
    else this.changing.delete(role);
    if (err) {
      for (const j of this.jobs()) if (!j.started && !this.blocked(j) && !this.models[this.roleFor(j)]) this.interrupt(j, err);
    }
    void this.pump();
  }

  private async unload(id: string, role: ModelRole): Promise<void> {
    try {
      const freed = await this.free(role, `the ${role === 'chat' ? 'chat' : 'completion'} model was unloaded`);
      this.active.delete(id);
      this.send({ type: 'unloaded', id, role, freed });
    } finally {
      this.changed(role, this.notLoaded());
    }
  }

  private async load(req: LoadRequest, role: ModelRole): Promise<void> {
    let failed: RequestError | undefined;
    try {
      await this.free(role, `the model was unloaded to load ${req.model}`);
      const t0 = performance.now();
      const g = readGGUF(req.model);
      const tokenizer = Tokenizer.fromGGUF(g);
      let lastSent = -1;
      const onProgress = (loadedBytes: number, totalBytes: number) => {
        // At most ~100 updates: enough for a progress bar.
        if (loadedBytes < totalBytes && loadedBytes - lastSent < totalBytes / 100) return;
        lastSent = loadedBytes;
        this.send({ type: 'progress', id: req.id, loadedBytes, totalBytes });
      };
      // The completion model keeps a second sequence for chat, used while no chat model is loaded.
      // Past the context the model was trained on its output degrades to noise (llama.cpp only warns):
      // the editor's setting is a most, not a demand. The report says what was used.
      const nCtx = Math.min(req.nCtx, loadConfig(g).nCtxTrain);
      const backend = await openBackend(g, req.backend, { nCtx, nSeq: role === 'chat' ? 1 : 2, maxDeviceBytes: req.maxDeviceBytes, onProgress });
      // Before 'loaded' (the client still shows the load): the first completion must not pay for the
      // kernels' compiles, which on a cold shader cache take longer than the load.
      const w0 = performance.now();
      try {
        await backend.warmUp();
      } catch (e) {
        backend.dispose();
        throw e;
      }
      const warmUpMs = performance.now() - w0;
      const { pre, suf, mid, sep } = tokenizer.fim;
      const fim = pre !== undefined && suf !== undefined && mid !== undefined
        ? new FimLayout((text) => tokenizer.encode(text, { addBos: false, parseSpecial: false }), { pre, suf, mid, fileSep: sep, repo: tokenizer.fim.rep })
        : undefined;
      let chat: Chat | undefined;
      let chatFallback: string | undefined;
      let chatError: string | undefined;
      try {
        const c = modelChatTemplate(g.metadata, req.model);
        chat = { template: c.template, stops: answerStops(c.template, tokenizer) };
        chatFallback = c.fallback;
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        // The model still completes code; chat requests will say why they cannot run.
        // The message quotes the template, which is file text.
        chatError = e.message;
        process.stderr.write(`hearth server: unusable chat template: ${escaped(e.message, 400)}\n`);
      }
      const st = backend.stats();
      const c = backend.config;
      const report: LoadReport = {
        model: req.model, role, name: c.name, arch: c.arch, fileType: fileType(g), backend: backend.name, device: st.device, nCtx: backend.nCtx, nSeq: backend.nSeq,
        nVocab: c.nVocab, nLayer: c.nLayer, nEmbd: c.nEmbd, nHead: c.nHead, nHeadKv: c.nHeadKv, fileBytes: g.fileSize, weightBytes: st.weightBytes, kvBytes: st.kvBytes, scratchBytes: st.scratchBytes,
        loadMs: performance.now() - t0, warmUpMs, fim: fim !== undefined, chat: chat !== undefined,
      };
      if (chatFallback !== undefined) report.chatFallback = chatFallback;
      const slots = role === 'chat' ? { chat: new Slot('chat', 0) } : { complete: new Slot('complete', 0), chat: new Slot('chat', 1) };
      this.models[role] = { report, backend, tokenizer, fim, chat, chatError, slots, busy: 0, settled: [] };
      this.active.delete(req.id);
      this.send({ type: 'loaded', id: req.id, report });
    } catch (e) {
      this.active.delete(req.id);
      const r = loadError(req.id, e);
      this.send(r);
      failed = new RequestError('not-loaded', `the model failed to load: ${r.message}`);
      if (r.code === 'device-lost') this.exit(EXIT_DEVICE_LOST);
    } finally {
      this.changed(role, failed);
    }
  }

  private async shutdown(id: string): Promise<void> {
    this.shuttingDown = true;
    for (const j of this.jobs()) this.interrupt(j, 'cancelled');
    await this.loads;
    await this.idle();
    for (const m of Object.values(this.models)) m.backend.dispose();
    this.models = {};
    this.active.delete(id);
    this.send({ type: 'bye', id });
    this.exit(0);
  }

  stats(): ServerStats {
    const { complete, chat } = this.models;
    const slots = [complete?.slots.complete, (chat ?? complete)?.slots.chat].filter((s): s is Slot => s !== undefined);
    return {
      pid: process.pid,
      uptimeMs: performance.now() - this.started,
      model: complete?.report ?? null,
      chatModel: chat?.report ?? null,
      slots: slots.map((s) => ({ name: s.name, tokens: s.length })),
      requests: this.totals.requests,
      active: this.active.size,
      prefillTokens: this.totals.prefillTokens,
      reusedTokens: this.totals.reusedTokens,
      rssBytes: process.memoryUsage.rss(),
      pipelines: { compiled: Gpu.compiled, firstUses: Dispatch.firstUses },
    };
  }
}

function main(): void {
  if (!process.send) {
    process.stderr.write('hearth server: start this file with child_process.fork (it talks over the IPC channel)\n');
    process.exit(2);
  }
  // process.send is asynchronous: exit only once every message has been handed to the channel.
  let unsent = 0;
  let exitCode: number | undefined;
  const send = (r: Response) => {
    if (!process.connected) return;
    unsent++;
    process.send!(r, () => {
      if (--unsent === 0 && exitCode !== undefined) process.exit(exitCode);
    });
  };
  const exit = (code: number) => {
    exitCode ??= code;
    if (unsent === 0) process.exit(exitCode);
  };
  const server = new InferenceServer(send, exit);
  process.on('message', (m) => server.handle(m));
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (e) => {
    send({ type: 'error', id: null, code: 'internal', message: `inference process crashed: ${e.stack ?? e.message}` });
    exit(70);
  });
  server.hello();
}

main();
