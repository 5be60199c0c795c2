// The extension host's side of the inference process: forks engine/server.ts (dist/server.js) so it
// runs under plain Node and under VS Code's Electron alike, speaks engine/protocol.ts, and keeps the
// process alive: a crash or a lost GPU device answers every request in flight with an error,
// restarts the process with backoff and loads the last models again. No VS Code imports, so all of
// this is tested under Node.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { isDawnNotice } from '../gpu/dawn-notices.js';
import {
  EXIT_DEVICE_LOST, PROTOCOL_VERSION, isFinal, parseResponse,
  type ChatMessage, type DoneResponse, type ErrorCode, type ErrorResponse, type Generation, type LoadReport,
  type LoadRequest, type ModelRole, type ProbeReport, type Request, type Response, type ServerStats, type TokenResponse, type ContextChunk,
} from './protocol.js';

export interface ClientOptions {
  /** The bundled server (dist/server.js). */
  serverPath: string;
  /** The runtime that runs it (default: this process's own, process.execPath). */
  execPath?: string;
  /** First restart delay; it doubles with each consecutive failure (default 250 ms). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** More than this many restarts within restartWindowMs and the client gives up (default 5 in 60 s). */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** How long a fresh process may take to say hello (default 30 s). */
  helloTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ExitInfo {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: 'crashed' | 'device-lost';
  /** The last lines the process wrote to stderr. */
  stderr: string;
  /** Delay before the restart, or undefined when the client gave up. */
  restartInMs?: number;
}

export interface ClientEvents {
  /** A process said hello (first start or restart). */
  ready: [pid: number];
  progress: [loadedBytes: number, totalBytes: number, role: ModelRole];
  /** A model finished loading (including the automatic reload after a restart); report.role says for what. */
  loaded: [report: LoadReport];
  /** The process died unexpectedly. */
  exit: [info: ExitInfo];
  /** Restarts were exhausted (or the protocol versions differ); the client is unusable. */
  fatal: [error: ServerError];
  /** An error that belongs to no request (including a failed automatic reload). */
  error: [error: ServerError];
  /** A line the process wrote to stderr. */
  log: [line: string];
  /** Every message from the process, as received (for logging and tests). */
  message: [r: Response];
}

export class ServerError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly needed?: number, readonly available?: number) {
    super(message);
    this.name = 'ServerError';
  }

  static from(r: ErrorResponse): ServerError {
    return new ServerError(r.code, r.message, r.needed, r.available);
  }
}

/** A generating request in flight. `result` always resolves, with the request's one final message. */
export interface GenerationHandle {
  readonly id: string;
  readonly result: Promise<DoneResponse | ErrorResponse>;
  cancel(): void;
}

export type CompleteOptions = Generation & {
  prefix: string; suffix: string; fileName?: string; language?: string; context?: ContextChunk[]; repoName?: string; alternatives?: number;
};
export type ExplainOptions = Generation & { code: string; fileName?: string; language?: string };
export type ChatOptions = Generation & { messages: ChatMessage[] };
export type LoadOptions = Omit<LoadRequest, 'type' | 'id'>;

interface Pending {
  msg: Request & { id: string };
  /** Handed to a process (which may have died since). */
  sent: boolean;
  /** Cancelled before it was sent: the cancel follows it. */
  cancelled?: boolean;
  onMessage(r: Response): void;
  /** Ends the request with an error when no process will answer it. */
  abandon(e: ServerError): void;
}

const STDERR_KEEP = 8192;
const STABLE_MS = 30_000;

export class InferenceClient extends EventEmitter<ClientEvents> {
  private child?: ChildProcess;
  private childReady = false;
  private readonly pending = new Map<string, Pending>();
  /** The model each role should have: loaded again after a restart. */
  private readonly lastLoads = new Map<ModelRole, LoadOptions>();
  private ids = 0;
  private closing = false;
  private dead = false;
  private restartTimes: number[] = [];
  private failures = 0;
  private startedAt = 0;
  private stderrTail = '';
  private restartTimer?: NodeJS.Timeout;
  private helloTimer?: NodeJS.Timeout;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly o: Required<Omit<ClientOptions, 'env' | 'execPath'>> & Pick<ClientOptions, 'env' | 'execPath'>;

  constructor(options: ClientOptions) {
    super();
    this.o = { restartDelayMs: 250, maxRestartDelayMs: 10_000, maxRestarts: 5, restartWindowMs: 60_000, helloTimeoutMs: 30_000, ...options };
  }

  /** The current process id (undefined while restarting). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Requests waiting for their final message. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Forks the process and waits for its hello. */
  start(): Promise<void> {
    if (this.dead) return Promise.reject(new ServerError('process-exited', 'the inference client was closed or gave up'));
    if (!this.child) this.spawn();
    return this.waitReady();
  }

  private waitReady(): Promise<void> {
    if (this.childReady) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private spawn(): void {
    this.childReady = false;
    this.stderrTail = '';
    this.startedAt = performance.now();
    // ELECTRON_RUN_AS_NODE makes VS Code's Electron binary (process.execPath there) behave as Node;
    // plain Node ignores it. execArgv is cleared so a debugger port of the host is not inherited.
    const child = fork(this.o.serverPath, [], {
      execArgv: [],
      execPath: this.o.execPath,
      env: { ...process.env, ...this.o.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    let partial = '';
    const line = (l: string) => {
      if (isDawnNotice(l)) return;
      this.stderrTail = (this.stderrTail + l + '\n').slice(-STDERR_KEEP);
      this.emit('log', l);
    };
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) line(l);
    });
    // A last line without its newline still counts ('end' comes before 'close').
    child.stderr!.on('end', () => { if (partial) line(partial); partial = ''; });
    child.on('message', (m) => this.onMessage(child, m));
    child.on('error', (e) => this.emit('log', `inference process error: ${e.message}`));
    child.on('close', (code, signal) => this.onClose(child, code, signal));
    this.helloTimer = setTimeout(() => {
      this.emit('log', `inference process did not say hello within ${this.o.helloTimeoutMs} ms; killing it`);
      child.kill('SIGKILL');
    }, this.o.helloTimeoutMs);
  }

  private onMessage(child: ChildProcess, raw: unknown): void {
    if (child !== this.child) return;
    let r: Response;
    try {
      r = parseResponse(raw);
    } catch (e) {
      // Our own server sent something we cannot read: it is broken, so start a fresh one.
      this.emit('log', `inference process sent a bad message (${(e as Error).message}); restarting it`);
      child.kill('SIGKILL');
      return;
    }
    this.emit('message', r);
    if (r.type === 'hello') return this.onHello(child, r.version);
    const id = r.id;
    if (id === null) {
      this.emit('error', ServerError.from(r as ErrorResponse));
      return;
    }
    const p = this.pending.get(id);
    if (!p) return;
    if (isFinal(r)) this.pending.delete(id);
    p.onMessage(r);
  }

  private onHello(child: ChildProcess, version: number): void {
    clearTimeout(this.helloTimer);
    if (version !== PROTOCOL_VERSION) {
      this.giveUp(new ServerError('version-mismatch', `the inference process speaks protocol ${version}, this client ${PROTOCOL_VERSION}: rebuild so both come from the same version`));
      child.kill('SIGKILL');
      return;
    }
    this.childReady = true;
    child.send({ type: 'hello', version: PROTOCOL_VERSION });
    // After a restart the models come back first; requests queued meanwhile follow them.
    for (const [role, opts] of this.lastLoads) {
      const reloading = [...this.pending.values()].some((p) => (p.msg.type === 'load' || p.msg.type === 'unload') && (p.msg.role ?? 'complete') === role);
      if (!reloading) this.reload(opts);
    }
    for (const p of this.pending.values()) this.post(p);
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.emit('ready', child.pid!);
  }

  private reload(opts: LoadOptions): void {
    this.request<LoadReport>({ type: 'load', id: this.nextId('reload'), ...opts }).catch((e: ServerError) => this.emit('error', e));
  }

  private onClose(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(this.helloTimer);
    if (child !== this.child) return;
    this.child = undefined;
    this.childReady = false;
    if (this.closing) {
      for (const p of [...this.pending.values()]) p.abandon(new ServerError('shutting-down', 'the inference process was shut down'));
      this.pending.clear();
      return;
    }
    const reason = code === EXIT_DEVICE_LOST ? 'device-lost' : 'crashed';
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const err = new ServerError(reason === 'device-lost' ? 'device-lost' : 'process-exited',
      `the inference process ${how}${reason === 'device-lost' ? ' after losing its GPU device' : ''}; it restarts${this.stderrTail ? `\n${this.stderrTail.trim().split('\n').slice(-5).join('\n')}` : ''}`);
    // Whatever the dead process held never gets an answer from it; requests it never saw wait for the next one.
    for (const [id, p] of [...this.pending]) {
      if (p.sent) {
        this.pending.delete(id);
        p.abandon(err);
      }
    }
    const now = performance.now();
    if (now - this.startedAt > STABLE_MS) this.failures = 0;
    this.restartTimes = this.restartTimes.filter((t) => now - t < this.o.restartWindowMs);
    const info: ExitInfo = { pid: child.pid ?? -1, code, signal, reason, stderr: this.stderrTail };
    if (this.restartTimes.length >= this.o.maxRestarts) {
      this.emit('exit', info);
      this.giveUp(new ServerError('process-exited', `the inference process died ${this.restartTimes.length + 1} times within ${this.o.restartWindowMs / 1000} s; giving up. Last: ${err.message}`));
      return;
    }
    // A lost device is not the process's fault: come back at once.
    const delay = reason === 'device-lost' ? this.o.restartDelayMs : Math.min(this.o.maxRestartDelayMs, this.o.restartDelayMs * 2 ** this.failures);
    this.failures++;
    this.restartTimes.push(now);
    info.restartInMs = delay;
    this.emit('exit', info);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closing && !this.dead) this.spawn();
    }, delay);
  }

  private giveUp(e: ServerError): void {
    this.dead = true;
    clearTimeout(this.restartTimer);
    for (const p of [...this.pending.values()]) p.abandon(e);
    this.pending.clear();
    for (const w of this.readyWaiters.splice(0)) w.reject(e);
    this.emit('fatal', e);
  }

  private nextId(kind: string): string {
    return `${kind}-${++this.ids}`;
  }

  private post(p: Pending): void {
    if (p.sent || !this.child || !this.childReady) return;
    p.sent = true;
    // A send that fails means the process is gone; its close handler answers the request.
    this.child.send(p.msg, (e) => e && this.emit('log', `could not send ${p.msg.type} to the inference process: ${e.message}`));
    if (p.cancelled) this.child.send({ type: 'cancel', id: p.msg.id });
  }

  private add(p: Pending): void {
    if (this.dead) {
      p.abandon(new ServerError('process-exited', 'the inference client was closed or gave up'));
      return;
    }
    this.pending.set(p.msg.id, p);
    if (!this.child && !this.restartTimer) this.spawn();
    this.post(p);
  }

  /** A request whose final message is its value (load, stats, shutdown). */
  private request<T>(msg: Request & { id: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.add({
        msg, sent: false,
        onMessage: (r) => {
          if (r.type === 'progress') this.emit('progress', r.loadedBytes, r.totalBytes, msg.type === 'load' ? msg.role ?? 'complete' : 'complete');
          else if (r.type === 'error') reject(ServerError.from(r));
          else if (r.type === 'loaded') { this.emit('loaded', r.report); resolve(r.report as T); }
          else if (r.type === 'stats') resolve(r.stats as T);
          else if (r.type === 'count') resolve(r.counts as T);
          else if (r.type === 'probe') resolve(r.report as T);
          else if (r.type === 'bye') resolve(undefined as T);
          else if (r.type === 'unloaded') resolve(r.freed as T);
        },
        abandon: reject,
      });
    });
  }

  /**
   * Loads a model for its role (default 'complete'), replacing that role's model; it is loaded again
   * automatically after a restart.
   */
  load(opts: LoadOptions): Promise<LoadReport> {
    this.lastLoads.set(opts.role ?? 'complete', { ...opts });
    return this.request<LoadReport>({ type: 'load', id: this.nextId('load'), ...opts });
  }

  /** Frees the role's model (and its GPU memory); not reloaded after a restart. Resolves whether one was loaded. */
  unload(role: ModelRole): Promise<boolean> {
    this.lastLoads.delete(role);
    return this.request<boolean>({ type: 'unload', id: this.nextId('unload'), role });
  }

  /** Checks that the process can run on the GPU and read back; rejects with 'gpu-unavailable' saying why not. */
  probe(): Promise<ProbeReport> {
    return this.request<ProbeReport>({ type: 'probe', id: this.nextId('probe') });
  }

  /** Each text's token count with the tokenizer of the model that serves chat (no BOS, special-token text as plain text). */
  count(texts: string[]): Promise<number[]> {
    return this.request<number[]>({ type: 'count', id: this.nextId('count'), texts });
  }

  stats(): Promise<ServerStats> {
    return this.request<ServerStats>({ type: 'stats', id: this.nextId('stats') });
  }

  private generate(msg: Request & { id: string }, onToken?: (t: TokenResponse) => void): GenerationHandle {
    const result = new Promise<DoneResponse | ErrorResponse>((resolve) => {
      this.add({
        msg, sent: false,
        onMessage: (r) => {
          if (r.type === 'token') onToken?.(r);
          else if (r.type === 'done' || r.type === 'error') resolve(r);
        },
        abandon: (e) => resolve({ type: 'error', id: msg.id, code: e.code, message: e.message }),
      });
    });
    return { id: msg.id, result, cancel: () => this.cancel(msg.id) };
  }

  /** Fill-in-the-middle completion; a newer one supersedes it. */
  complete(opts: CompleteOptions, onToken?: (t: TokenResponse) => void): GenerationHandle {
    return this.generate({ type: 'complete', id: this.nextId('complete'), ...opts }, onToken);
  }

  explain(opts: ExplainOptions, onToken?: (t: TokenResponse) => void): GenerationHandle {
    return this.generate({ type: 'explain', id: this.nextId('explain'), ...opts }, onToken);
  }

  chat(opts: ChatOptions, onToken?: (t: TokenResponse) => void): GenerationHandle {
    return this.generate({ type: 'chat', id: this.nextId('chat'), ...opts }, onToken);
  }

  /** Stops a request; it still gets its final message (done with reason 'cancelled'). */
  cancel(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    // The process answers either way, so the request keeps its one final message from there.
    if (p.sent) this.child?.send({ type: 'cancel', id });
    else p.cancelled = true;
  }

  /** Asks the process to finish and exit; kills it if it does not within `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    for (const w of this.readyWaiters.splice(0)) w.reject(new ServerError('shutting-down', 'the inference client was closed'));
    if (!child) {
      this.dead = true;
      for (const p of [...this.pending.values()]) p.abandon(new ServerError('shutting-down', 'the inference client was closed'));
      this.pending.clear();
      return;
    }
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    if (this.childReady) {
      const bye: Pending = { msg: { type: 'shutdown', id: this.nextId('shutdown') }, sent: false, onMessage: () => undefined, abandon: () => undefined };
      this.pending.set(bye.msg.id, bye);
      this.post(bye);
    } else {
      child.kill('SIGKILL');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await closed;
    clearTimeout(timer);
    this.dead = true;
  }
}
