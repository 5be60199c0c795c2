// Decides what to show at the cursor: the cache first (type-through, no request), else after a short
// debounce one request to the inference process, shown as soon as post-processing says the
// suggestion is complete while the stream goes on: what the model writes after the cut is cached as
// the next suggestion, the one to show once this one is accepted. A single-line suggestion that
// ended the stream gets its next one computed by a follow-up request (its prompt shares everything
// but the cursor line's end, so it costs no re-prefill either way). A newer request supersedes the
// one in flight in the server; an aborted call cancels it; an answer for a document version or
// cursor that moved on is cached but not shown. No VS Code imports: tested under Node.
import { EventEmitter } from 'node:events';
import type { CompleteOptions, DoneResponse, ErrorResponse, GenerationHandle } from '../../engine/process/index.js';
import type { HearthConfig } from '../config.js';
import { SuggestionCache, type CacheKey } from './cache.js';
import type { ContextRing } from './context.js';
import { postProcess, type EndReason, type PostContext } from './post-process.js';
import type { DocWindow } from './window.js';

/** The part of the inference client completions use. */
export interface Engine {
  complete(opts: CompleteOptions, onToken?: (t: { text: string }) => void): GenerationHandle;
}

export interface CompletionRequest {
  key: CacheKey;
  window: DocWindow;
  /** Workspace-relative name, as the prompt shows it. */
  fileName: string;
  language: string;
  repoName?: string;
  insertSpaces: boolean;
  tabSize: number;
  /** Whether the document and cursor are still where the request was made. */
  isCurrent(): boolean;
}

export interface ProvideOptions {
  /** Asked for explicitly: no debounce, several alternatives. */
  manual?: boolean;
  /** Skip the cache (and replace what it held here). */
  noCache?: boolean;
  signal?: AbortSignal;
}

export interface CompleterEvents {
  /** `context`: the names of the extra-context chunks the prompt carried. */
  request: [info: { id: string; promptTokens: number; prefillTokens: number; reusedTokens: number; ms: number; reason: string; tokPerS: number; background: boolean; context: string[] }];
  shown: [info: { text: string; latencyMs: number; cached: boolean }];
  generating: [on: boolean];
  log: [message: string];
}

/** With more than this many characters after the cursor, only a manual trigger completes (as llama.vscode). */
export const MAX_AUTO_SUFFIX = 8;
export const ALTERNATIVES = 3;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

const lastLine = (s: string) => s.slice(s.lastIndexOf('\n') + 1);

export class Completer extends EventEmitter<CompleterEvents> {
  readonly cache = new SuggestionCache();
  private foreground?: GenerationHandle;
  /** Future prefixes a follow-up request was sent for (even if it found nothing), newest last. */
  private readonly aheadSent: string[] = [];
  /** When the user last made the completer work (for idle pre-loading). */
  lastActivity = 0;
  /** Key of the last prompt sent, so an idle pre-load does not repeat it. */
  private lastSent?: string;
  private lastRing = -1;

  constructor(
    private readonly config: () => HearthConfig,
    private readonly engine: () => Engine | undefined,
    private readonly ring: ContextRing,
  ) {
    super();
  }

  private context(req: CompletionRequest, linePrefix = req.window.linePrefix): PostContext {
    const w = req.window;
    return { linePrefix, lineSuffix: w.lineSuffix, nextLines: w.nextLines, insertSpaces: req.insertSpaces, tabSize: req.tabSize, maxLines: this.config().maxLines };
  }

  /** Suggestions to show at the cursor, best first (the rest of each line from the cursor), or undefined. */
  async provide(req: CompletionRequest, o: ProvideOptions = {}): Promise<string[] | undefined> {
    const t0 = performance.now();
    this.lastActivity = Date.now();
    // What the cache holds came from a model that is gone (crashed, unloaded, failed to load).
    if (!this.engine()) {
      this.forget();
      return undefined;
    }
    if (!o.noCache) {
      const hit = this.cache.lookup(req.key);
      if (hit && (!o.manual || hit.items.length > 1)) {
        this.emit('shown', { text: hit.items[0], latencyMs: performance.now() - t0, cached: true });
        this.ahead(req, hit.items[0]);
        return hit.items;
      }
    }
    if (!o.manual && req.window.lineSuffix.trim().length > MAX_AUTO_SUFFIX) return undefined;
    const cfg = this.config();
    if (!o.manual && cfg.debounceMs > 0) await sleep(cfg.debounceMs, o.signal);
    if (o.signal?.aborted) return undefined;
    const engine = this.engine();
    if (!engine) return undefined;
    const items = await this.run(engine, req, { alternatives: o.manual ? ALTERNATIVES : 1, signal: o.signal, background: false });
    if (!items?.length || o.signal?.aborted) return undefined;
    // Cached for when the user comes back, but never shown where it was not asked for.
    if (!req.isCurrent()) return undefined;
    this.emit('shown', { text: items[0], latencyMs: performance.now() - t0, cached: false });
    this.ahead(req, items[0]);
    return items;
  }

  /** The model stopped answering: its suggestions are never shown again, and its request in flight ends. */
  forget(): void {
    this.foreground?.cancel();
    this.cache.clear();
    this.aheadSent.length = 0;
    this.lastSent = undefined;
  }

  /** Pre-loads the prompt at the cursor into the server's cache (no tokens generated). */
  preload(req: CompletionRequest): void {
    const engine = this.engine();
    if (!engine || this.foreground) return;
    const key = this.sentKey(req);
    if (key === this.lastSent && this.ring.version === this.lastRing) return;
    this.lastSent = key;
    this.lastRing = this.ring.version;
    const h = engine.complete({ ...this.options(req, 1), maxTokens: 0 });
    void h.result.then((r) => {
      if (r.type === 'done' && r.reason === 'length') {
        this.emit('log', `pre-loaded ${r.timings.prefillTokens} tokens (${r.timings.reusedTokens} cached) for ${req.fileName} in ${r.timings.totalMs.toFixed(0)} ms`);
      }
    });
  }

  private sentKey(req: CompletionRequest): string {
    return `${req.key.doc}\0${req.key.anchor}\0${req.key.prefix.length}\0${req.key.prefix.slice(-256)}\0${req.key.suffix.length}`;
  }

  private options(req: CompletionRequest, alternatives: number): CompleteOptions {
    const cfg = this.config();
    const w = req.window;
    const o: CompleteOptions = {
      prefix: w.prefix, suffix: w.suffix, fileName: req.fileName, language: req.language, context: this.ring.chunks(req.fileName),
      maxTokens: cfg.maxTokens, lineBudgetMs: cfg.timeBudgetMs,
    };
    if (req.repoName) o.repoName = req.repoName;
    if (alternatives > 1) o.alternatives = alternatives;
    // Absent, the server speculates where it pays (the suggestions are the same either way).
    if (!cfg.speculative) o.speculate = 0;
    return o;
  }

  /**
   * One request. Resolves with the suggestions once they are known (early, while the stream
   * continues for the next suggestion), or undefined when it was superseded, cancelled or failed.
   */
  private run(engine: Engine, req: CompletionRequest, o: { alternatives: number; signal?: AbortSignal; background: boolean }): Promise<string[] | undefined> {
    if (!o.background) this.foreground?.cancel();
    const ctx = this.context(req);
    const multi = req.window.lineSuffix.trim() === '';
    let raw = '';
    let shown: { text: string; consumed: number } | undefined;
    let future: PostContext | undefined;
    let resolveEarly!: (items: string[] | undefined) => void;
    const early = new Promise<string[] | undefined>((r) => (resolveEarly = r));
    const show = (text: string, consumed: number) => {
      shown = { text, consumed };
      this.cache.put(req.key, [text]);
      future = this.context(req, lastLine(req.window.linePrefix + text));
      resolveEarly(text ? [text] : []);
    };
    const options = this.options(req, o.alternatives);
    this.lastSent = this.sentKey(req);
    this.lastRing = this.ring.version;
    const handle = engine.complete(options, o.alternatives > 1 ? undefined : (t) => {
      raw += t.text.replace(/\r\n?/g, '\n');
      if (!shown) {
        const p = postProcess(raw, ctx);
        if (p.complete) {
          show(p.text, p.consumed);
          if (!p.text || !multi) handle.cancel();
        }
      } else if (future && postProcess(raw.slice(shown.consumed), future).complete) {
        // The next suggestion is complete too: free the GPU.
        handle.cancel();
      }
    });
    if (!o.background) {
      this.foreground = handle;
      this.emit('generating', true);
    }
    o.signal?.addEventListener('abort', () => {
      if (!shown) handle.cancel();
    }, { once: true });
    const context = (options.context ?? []).map((c) => c.name);
    const finished = handle.result.then((r) => this.finish(req, r, ctx, shown, multi, o.background, context, (text, consumed) => show(text, consumed)));
    void finished.finally(() => {
      if (this.foreground === handle) {
        this.foreground = undefined;
        this.emit('generating', false);
      }
    });
    return Promise.race([early, finished]);
  }

  private finish(
    req: CompletionRequest, r: DoneResponse | ErrorResponse, ctx: PostContext, shown: { text: string; consumed: number } | undefined,
    multi: boolean, background: boolean, context: string[], show: (text: string, consumed: number) => void,
  ): string[] | undefined {
    if (r.type === 'error') {
      // The engine host reports process and model failures once; a completion just has none.
      this.emit('log', `completion failed: ${r.code}: ${r.message.split('\n')[0]}`);
      return undefined;
    }
    const t = r.timings;
    this.emit('request', {
      id: r.id, promptTokens: t.promptTokens, prefillTokens: t.prefillTokens, reusedTokens: t.reusedTokens, ms: t.totalMs, reason: r.reason,
      tokPerS: t.decodeTokPerS, background, context,
    });
    const reason: EndReason = r.reason;
    const text = r.text.replace(/\r\n?/g, '\n');
    if (!shown) {
      if (reason === 'cancelled' || reason === 'superseded') return undefined;
      const first = postProcess(text, ctx, reason);
      if (r.alternatives) {
        const items: string[] = [];
        for (const s of [first.text, ...r.alternatives.map((a) => postProcess(a.replace(/\r\n?/g, '\n'), ctx, 'length').text)]) {
          if (s && !items.includes(s)) items.push(s);
        }
        this.cache.put(req.key, items);
        return items;
      }
      if (!first.text) return [];
      show(first.text, first.consumed);
      shown = { text: first.text, consumed: first.consumed };
    }
    // What the model wrote after the shown suggestion is the next one.
    if (multi && shown.text) {
      const rest = text.slice(shown.consumed);
      const future = this.context(req, lastLine(req.window.linePrefix + shown.text));
      const next = postProcess(rest, future, reason === 'cancelled' || reason === 'superseded' ? 'length' : reason).text;
      if (next.trim()) this.cache.put(this.futureKey(req, shown.text), [next]);
    }
    return [shown.text];
  }

  private futureKey(req: CompletionRequest, accepted: string): CacheKey {
    return { ...req.key, prefix: req.key.prefix + accepted };
  }

  /**
   * After `shown` is on screen: if nothing is known yet for after its acceptance, and it stays on one
   * line, asks for that now (a later keystroke supersedes it).
   */
  private ahead(req: CompletionRequest, shown: string): void {
    if (shown.includes('\n') || req.window.lineSuffix.trim() !== '') return;
    const key = this.futureKey(req, shown);
    if (this.aheadSent.includes(key.prefix) || this.cache.lookup(key)) return;
    queueMicrotask(() => {
      const engine = this.engine();
      if (!engine || this.foreground) return;
      const w = req.window;
      const next: CompletionRequest = {
        ...req, key, window: { ...w, prefix: w.prefix + shown, linePrefix: w.linePrefix + shown }, isCurrent: () => false,
      };
      this.aheadSent.push(key.prefix);
      if (this.aheadSent.length > 32) this.aheadSent.shift();
      void this.run(engine, next, { alternatives: 1, background: true });
    });
  }
}
