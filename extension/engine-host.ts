// The inference process as the extension sees it: picks the runtime (runtime.ts), forks the server
// on it, probes a GPU read-back, checks that each model fits before loading it (header only), loads
// the completion model and, when one is set apart, the chat model, with byte progress, and reloads
// them when their settings change. After hearth.idleUnloadMinutes without use both are unloaded;
// the next keystroke (or chat message) loads its model again. Crashes are the client's to restart;
// this reports them. Every failure becomes one state and one problem per distinct message (until
// something succeeds again), never a storm; a software adapter is said once. No VS Code imports:
// the integration test drives it under plain Node against the real server.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { freemem } from 'node:os';
import { basename } from 'node:path';
import { InferenceClient, ServerError, checkFit, type ClientOptions, type FitReport, type LoadReport, type ModelRole, type ProbeReport } from '../engine/process/index.js';
import { humanBytes } from './format.js';
import { IdleTimer, type Clock } from './idle-timer.js';
import { fitProblem, softwareNotice } from './models/fit-messages.js';
import { INSTALL_HINT, resolveRuntime, type Runtime } from './runtime.js';
import type { EngineState } from './state.js';

export interface HostSettings {
  modelPath: string;
  /** A separate chat model; '' (or modelPath itself): chat uses the completion model. */
  chatModelPath: string;
  nodePath: string;
  contextSize: number;
  /** Unload after this many minutes without a request; 0: never. */
  idleUnloadMinutes: number;
}

/** The separate chat model's state; 'none' when chat shares the completion model. */
export type ChatModelState =
  | { kind: 'none' }
  | { kind: 'loading'; loadedBytes: number; totalBytes: number }
  | { kind: 'ready' }
  | { kind: 'unloaded'; minutes: number }
  | { kind: 'error'; message: string };

export interface EngineHostOptions {
  /** dist/server.js of the extension. */
  serverPath: string;
  /** Where the VSIX keeps its Node binary. */
  bundledDir: string;
  backend?: 'webgpu' | 'reference';
  /** Probe a GPU read-back before loading (default true; the reference backend needs no GPU). */
  probe?: boolean;
  /** Device memory the model may use; over it the load fails before allocating. */
  maxDeviceBytes?: number;
  /** The extension host's runtime (defaults: this process). */
  execPath?: string;
  versions?: NodeJS.ProcessVersions;
  env?: NodeJS.ProcessEnv;
  client?: Partial<Omit<ClientOptions, 'serverPath' | 'execPath'>>;
  /** For the idle unload (tests). */
  clock?: Clock;
}

/** 'slow': no GPU, only a software adapter (said once). */
export type ProblemKind = 'no-model' | 'model' | 'chat-model' | 'runtime' | 'gpu' | 'crash' | 'slow';

export interface Problem {
  kind: ProblemKind;
  message: string;
}

export interface EngineHostEvents {
  state: [state: EngineState];
  chatState: [state: ChatModelState];
  log: [level: 'info' | 'warn' | 'error', message: string];
  /** Something the user must be told, once per distinct message until the engine works again. */
  problem: [problem: Problem];
  /** A model finished loading; report.role says which. */
  loaded: [report: LoadReport];
  pid: [pid: number];
}

/** What llama.cpp prints after loading, from the server's report. */
export function loadReportLines(r: LoadReport, runtime?: Runtime, probe?: ProbeReport): string[] {
  const lines = [
    `llm_load_print_meta: file      = ${r.model}`,
    `llm_load_print_meta: arch      = ${r.arch}`,
    `llm_load_print_meta: name      = ${r.name}`,
    `llm_load_print_meta: file type = ${r.fileType}`,
    `llm_load_print_meta: file size = ${humanBytes(r.fileBytes)}`,
    `llm_load_print_meta: n_vocab   = ${r.nVocab}`,
    `llm_load_print_meta: n_embd    = ${r.nEmbd}`,
    `llm_load_print_meta: n_layer   = ${r.nLayer}`,
    `llm_load_print_meta: n_head    = ${r.nHead}`,
    `llm_load_print_meta: n_head_kv = ${r.nHeadKv}`,
    `llama_context: n_ctx = ${r.nCtx}, n_seq = ${r.nSeq}, fim = ${r.fim}, chat template = ${r.chat}`,
    `load_tensors: ${r.backend} backend on ${r.device}: weights ${humanBytes(r.weightBytes)}, KV cache ${humanBytes(r.kvBytes)}, scratch ${humanBytes(r.scratchBytes)}`,
    `load_tensors: loaded in ${r.loadMs.toFixed(0)} ms${r.warmUpMs !== undefined ? ` (of which ${r.warmUpMs.toFixed(0)} ms running each kernel once)` : ''}`,
  ];
  if (runtime) lines.unshift(`runtime: ${runtime.path} (${runtime.source}, Node ${runtime.version})`);
  if (probe) lines.unshift(`probe: GPU read-back on ${probe.adapter}${probe.software ? ' (software adapter)' : ''} in ${probe.ms.toFixed(0)} ms`);
  return lines;
}

export class EngineHost extends EventEmitter<EngineHostEvents> {
  private client?: InferenceClient;
  private runtime?: Runtime;
  private probeReport?: ProbeReport;
  /** nodePath the client was started for. */
  private startedFor?: string;
  /** Model path and context size loaded, per role. */
  private loadedKey?: string;
  private chatKey?: string;
  private wanted?: HostSettings;
  private chain: Promise<void> = Promise.resolve();
  private told = new Set<string>();
  private toldSoftware = false;
  private current: EngineState = { kind: 'starting' };
  private chatCurrent: ChatModelState = { kind: 'none' };
  /** Roles unloaded for being idle: they load again when next used, or when the settings change. */
  private readonly asleep = new Set<ModelRole>();
  private readonly idle: IdleTimer;
  private disposed = false;
  report?: LoadReport;
  chatReport?: LoadReport;

  constructor(private readonly o: EngineHostOptions) {
    super();
    this.idle = new IdleTimer({ onIdle: () => this.sleep(), busy: () => (this.client?.inFlight ?? 0) > 0, clock: o.clock });
  }

  get state(): EngineState {
    return this.current;
  }

  get chatState(): ChatModelState {
    return this.chatCurrent;
  }

  /** What the GPU probe found (undefined before it ran, or with probe: false). */
  get probe(): ProbeReport | undefined {
    return this.probeReport;
  }

  /** The client, while the completion model is loaded and answering. */
  get ready(): InferenceClient | undefined {
    return this.current.kind === 'ready' ? this.client : undefined;
  }

  get pid(): number | undefined {
    return this.client?.pid;
  }

  /** The client for a completion the user asked for (a keystroke): counts as use, and loads the model again after an idle unload. */
  forCompletion(): InferenceClient | undefined {
    this.idle.touch();
    if (this.current.kind === 'unloaded') this.wake('complete');
    return this.ready;
  }

  /** The client once the completion model is ready (waiting through a start, load or restart); refused when there is none to wait for. */
  whenReady(): Promise<InferenceClient> {
    return this.waitFor('state', () => this.current, (s) => {
      if (s.kind === 'ready' && this.client) return this.client;
      if (s.kind === 'no-model') return new Error('no model is set: pick one (Hearth: Pick Model) or set hearth.modelPath');
      if (s.kind === 'error') return new Error(s.message);
      return undefined;
    });
  }

  /** The client once the model that answers chat is ready: the chat model when one is set, else the completion model. Counts as use. */
  whenChatReady(): Promise<InferenceClient> {
    this.idle.touch();
    if (this.chatCurrent.kind === 'none') {
      if (this.current.kind === 'unloaded') this.wake('complete');
      return this.whenReady();
    }
    if (this.chatCurrent.kind === 'unloaded') this.wake('chat');
    return this.waitFor('chatState', () => this.chatCurrent, (s) => {
      if (s.kind === 'ready' && this.client) return this.client;
      if (s.kind === 'error') return new Error(s.message);
      // The chat model was unset meanwhile: chat goes to the completion model.
      if (s.kind === 'none') return this.whenReady();
      return undefined;
    });
  }

  private waitFor<S>(event: 'state' | 'chatState', now: () => S, settle: (s: S) => InferenceClient | Error | Promise<InferenceClient> | undefined): Promise<InferenceClient> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const r = this.disposed ? new Error('Hearth is shutting down') : settle(now());
        if (r === undefined) return false;
        if (r instanceof Error) reject(r);
        else resolve(r);
        return true;
      };
      if (check()) return;
      const on = () => {
        if (check()) this.off(event, on);
      };
      this.on(event, on);
    });
  }

  /** Applies settings: a new nodePath restarts the process, a new model or context size reloads, a cleared chat model unloads. */
  configure(s: HostSettings): Promise<void> {
    this.wanted = { ...s };
    this.asleep.clear();
    this.idle.setMinutes(s.idleUnloadMinutes);
    return this.enqueue();
  }

  private enqueue(): Promise<void> {
    this.chain = this.chain.then(() => this.apply()).catch((e) => this.fail('crash', `internal error: ${(e as Error)?.stack ?? e}`));
    return this.chain;
  }

  private setState(s: EngineState): void {
    this.current = s;
    if (s.kind === 'ready') this.told.clear();
    this.emit('state', s);
  }

  private setChat(s: ChatModelState): void {
    this.chatCurrent = s;
    this.emit('chatState', s);
  }

  /** Emits a problem unless this message was told since the last success. */
  private tell(kind: ProblemKind, message: string): void {
    if (this.told.has(message)) return;
    this.told.add(message);
    this.emit('problem', { kind, message });
  }

  private fail(kind: ProblemKind, message: string): void {
    this.emit('log', 'error', message);
    this.setState(kind === 'no-model' ? { kind: 'no-model' } : { kind: 'error', message });
    this.tell(kind, message);
  }

  private failChat(message: string): void {
    this.emit('log', 'error', message);
    this.setChat({ kind: 'error', message });
    this.tell('chat-model', message);
  }

  private async apply(): Promise<void> {
    const s = this.wanted;
    if (!s || this.disposed) return;
    if (!this.client || s.nodePath !== this.startedFor) {
      if (!(await this.start(s.nodePath))) return;
    }
    await this.applyCompletion(s);
    await this.applyChat(s);
  }

  /** Frees what the role has loaded (its GPU memory with it), and keeps a restart from loading it again. */
  private async drop(role: ModelRole): Promise<void> {
    if (role === 'chat') this.chatKey = undefined;
    else this.loadedKey = undefined;
    await this.client?.unload(role).catch(() => undefined);
  }

  /** The file's size, or undefined when it is not a file. */
  private fileSize(path: string): number | undefined {
    try {
      const st = statSync(path);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Why `path` cannot load at this context (the header read for the memory plan), or undefined when
   * it fits or nothing bounds it: a GPU's memory size is unknown to WebGPU, so only maxDeviceBytes or
   * a software adapter (free system memory, plus what the model it replaces frees) gives a budget.
   * `otherBytes`: what the other role's model holds.
   */
  private tooBig(path: string, nCtx: number, role: ModelRole, setting: string, otherBytes: number): string | undefined {
    const software = this.probeReport?.software === true;
    const replaced = role === 'chat' ? (this.chatKey && this.chatReport) : (this.loadedKey && this.report);
    const budget = this.o.maxDeviceBytes !== undefined ? this.budget(otherBytes) : software ? freemem() + (replaced ? usedBytes(replaced) : 0) : undefined;
    if (budget === undefined) return undefined;
    let r: FitReport;
    try {
      r = checkFit(path, { nCtx, nSeq: role === 'chat' ? 1 : 2, budgetBytes: budget, device: { software } });
    } catch {
      return undefined; // the load names what is wrong with the file
    }
    this.emit('log', 'info', `fit check: ${r.message}`);
    return fitProblem(r, setting);
  }

  private async applyCompletion(s: HostSettings): Promise<void> {
    if (this.asleep.has('complete')) return;
    if (!s.modelPath) {
      if (this.loadedKey) await this.drop('complete');
      this.fail('no-model', 'no model configured: pick one (Hearth: Pick Model) or set hearth.modelPath to a GGUF file');
      return;
    }
    const key = `${s.modelPath}\0${s.contextSize}`;
    if (key === this.loadedKey && this.current.kind === 'ready') return;
    const size = this.fileSize(s.modelPath);
    if (size === undefined) {
      await this.drop('complete');
      this.fail('model', `model file not found: ${s.modelPath} (hearth.modelPath)`);
      return;
    }
    // The model it replaces is freed first, so it does not count against the new one.
    const chatBytes = this.chatKey && this.chatReport ? usedBytes(this.chatReport) : 0;
    const problem = this.tooBig(s.modelPath, s.contextSize, 'complete', 'hearth.modelPath', chatBytes);
    if (problem) {
      await this.drop('complete');
      this.fail('model', problem);
      return;
    }
    this.loadedKey = undefined;
    this.setState({ kind: 'loading', loadedBytes: 0, totalBytes: size });
    this.emit('log', 'info', `loading ${s.modelPath} (${humanBytes(size)}, n_ctx ${s.contextSize})`);
    const client = this.client!;
    try {
      const report = await client.load({ model: s.modelPath, role: 'complete', backend: this.o.backend ?? 'webgpu', nCtx: s.contextSize, maxDeviceBytes: this.budget(chatBytes) });
      if (client !== this.client) return;
      this.loadedKey = key;
      this.onLoaded(report);
    } catch (e) {
      if (client !== this.client) return;
      this.loadedKey = undefined;
      this.fail('model', loadMessage(s.modelPath, e));
    }
  }

  private async applyChat(s: HostSettings): Promise<void> {
    const path = s.chatModelPath && s.chatModelPath !== s.modelPath ? s.chatModelPath : '';
    if (!path) {
      if (this.chatCurrent.kind !== 'none') {
        await this.drop('chat');
        this.emit('log', 'info', 'chat uses the completion model (hearth.chatModelPath is not set)');
        this.setChat({ kind: 'none' });
      }
      return;
    }
    if (this.asleep.has('chat')) return;
    const key = `${path}\0${s.contextSize}`;
    if (key === this.chatKey && this.chatCurrent.kind === 'ready') return;
    const size = this.fileSize(path);
    if (size === undefined) {
      await this.drop('chat');
      this.failChat(`chat model file not found: ${path} (hearth.chatModelPath)`);
      return;
    }
    const completionBytes = this.loadedKey && this.report ? usedBytes(this.report) : 0;
    const problem = this.tooBig(path, s.contextSize, 'chat', 'hearth.chatModelPath', completionBytes);
    if (problem) {
      await this.drop('chat');
      this.failChat(problem);
      return;
    }
    this.chatKey = undefined;
    this.setChat({ kind: 'loading', loadedBytes: 0, totalBytes: size });
    this.emit('log', 'info', `loading the chat model ${path} (${humanBytes(size)}, n_ctx ${s.contextSize})`);
    const client = this.client!;
    try {
      const report = await client.load({ model: path, role: 'chat', backend: this.o.backend ?? 'webgpu', nCtx: s.contextSize, maxDeviceBytes: this.budget(completionBytes) });
      if (client !== this.client) return;
      this.chatKey = key;
      this.onChatLoaded(report);
    } catch (e) {
      if (client !== this.client) return;
      this.chatKey = undefined;
      this.failChat(`chat model: ${loadMessage(path, e)}`);
    }
  }

  /** Device memory left for one model when the other holds `otherBytes`. */
  private budget(otherBytes: number): number | undefined {
    return this.o.maxDeviceBytes === undefined ? undefined : Math.max(0, this.o.maxDeviceBytes - otherBytes);
  }

  private wake(role: ModelRole): void {
    if (!this.asleep.delete(role)) return;
    this.emit('log', 'info', `loading the ${role === 'chat' ? 'chat' : 'completion'} model again (it was unloaded while idle)`);
    void this.enqueue();
  }

  /** The idle unload: frees both models; each loads again when next used. */
  private sleep(): void {
    this.chain = this.chain.then(async () => {
      const client = this.client, s = this.wanted;
      if (!client || !s || this.disposed) return;
      // A request came in while this waited in the chain.
      if (client.inFlight > 0) return this.idle.touch();
      const minutes = s.idleUnloadMinutes;
      const freed: string[] = [];
      if (this.current.kind === 'ready') {
        await this.drop('complete');
        this.asleep.add('complete');
        this.setState({ kind: 'unloaded', minutes });
        freed.push('the completion model');
      }
      if (this.chatCurrent.kind === 'ready') {
        await this.drop('chat');
        this.asleep.add('chat');
        this.setChat({ kind: 'unloaded', minutes });
        freed.push('the chat model');
      }
      if (freed.length) this.emit('log', 'info', `unloaded ${freed.join(' and ')} after ${minutes} minutes without use (hearth.idleUnloadMinutes); the next keystroke or chat message loads ${freed.length > 1 ? 'each' : 'it'} again`);
    }).catch((e) => this.fail('crash', `internal error: ${(e as Error)?.stack ?? e}`));
  }

  /** Forks the server on the resolved runtime and probes the GPU; false when that failed (already reported). */
  private async start(nodePath: string): Promise<boolean> {
    const old = this.client;
    this.client = undefined;
    this.loadedKey = undefined;
    this.chatKey = undefined;
    await old?.close();
    this.setState({ kind: 'starting' });
    let runtime: Runtime;
    try {
      runtime = await resolveRuntime({
        nodePath, execPath: this.o.execPath ?? process.execPath, versions: this.o.versions ?? process.versions,
        bundledDir: this.o.bundledDir, platform: process.platform, env: this.o.env ?? process.env,
      });
    } catch (e) {
      this.fail('runtime', (e as Error).message);
      return false;
    }
    this.runtime = runtime;
    this.startedFor = nodePath;
    this.emit('log', 'info', `inference runtime: ${runtime.path} (${runtime.source}, Node ${runtime.version})`);
    const client = new InferenceClient({ ...this.o.client, serverPath: this.o.serverPath, execPath: runtime.path, env: this.o.env });
    this.client = client;
    this.wire(client);
    try {
      await client.start();
      if (this.o.probe !== false) {
        this.probeReport = await client.probe();
        const p = this.probeReport;
        this.emit('log', 'info', `GPU read-back works on ${p.adapter}${p.software ? ' (a software adapter: slow)' : ''}, Node ${p.node}, ${p.ms.toFixed(0)} ms`);
        if (p.software && !this.toldSoftware) {
          this.toldSoftware = true;
          const notice = softwareNotice(p.adapter);
          this.emit('log', 'warn', notice);
          this.emit('problem', { kind: 'slow', message: notice });
        }
      }
      return true;
    } catch (e) {
      if (client !== this.client) return false;
      this.client = undefined;
      await client.close();
      const err = e as ServerError;
      if (err.code === 'gpu-unavailable') {
        const electron = /Electron/.test(err.message);
        this.fail('gpu', `${err.message}. ${electron ? `Hearth needs real Node.js here: ${INSTALL_HINT}` : 'Install or update the GPU driver (Vulkan on Linux, Metal on macOS, Direct3D 12 on Windows)'}`);
      } else {
        this.fail('crash', `the inference process did not start on ${runtime.path}: ${err.message}`);
      }
      return false;
    }
  }

  private onLoaded(report: LoadReport): void {
    this.report = report;
    for (const l of loadReportLines(report, this.runtime, this.probeReport)) this.emit('log', 'info', l);
    this.setState({ kind: 'ready' });
    this.idle.touch();
    this.emit('loaded', report);
  }

  private onChatLoaded(report: LoadReport): void {
    this.chatReport = report;
    for (const l of loadReportLines(report)) this.emit('log', 'info', `chat model: ${l}`);
    this.setChat({ kind: 'ready' });
    this.idle.touch();
    this.emit('loaded', report);
  }

  private wire(client: InferenceClient): void {
    const mine = () => client === this.client;
    client.on('ready', (pid) => {
      if (!mine()) return;
      this.emit('log', 'info', `inference process ${pid} started`);
      this.emit('pid', pid);
    });
    client.on('progress', (loadedBytes, totalBytes, role) => {
      if (!mine()) return;
      if (role === 'chat') {
        if (this.chatCurrent.kind !== 'error') this.setChat({ kind: 'loading', loadedBytes, totalBytes });
      } else if (this.current.kind !== 'error') {
        this.setState({ kind: 'loading', loadedBytes, totalBytes });
      }
    });
    // After a restart the client loads the models again by itself.
    client.on('loaded', (report) => {
      if (!mine()) return;
      if (report.role === 'chat') {
        if (this.chatCurrent.kind !== 'ready' && this.chatKey !== undefined) this.onChatLoaded(report);
      } else if (this.current.kind !== 'ready' && this.loadedKey !== undefined) {
        this.onLoaded(report);
      }
    });
    client.on('exit', (info) => {
      if (!mine()) return;
      const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
      const tail = info.stderr.trim() ? `\n${info.stderr.trim().split('\n').slice(-5).join('\n')}` : '';
      this.emit('log', 'error', `inference process ${info.pid} ${how}${info.reason === 'device-lost' ? ' (GPU device lost)' : ''}${tail}`);
      if (info.restartInMs !== undefined) {
        this.emit('log', 'info', `restarting it in ${info.restartInMs} ms`);
        this.setState({ kind: 'restarting' });
      }
    });
    client.on('fatal', (e) => {
      if (!mine()) return;
      this.loadedKey = undefined;
      this.chatKey = undefined;
      if (this.chatCurrent.kind !== 'none') this.setChat({ kind: 'error', message: e.message });
      this.fail('crash', e.message);
    });
    client.on('error', (e) => {
      if (!mine()) return;
      this.loadedKey = undefined;
      this.fail('model', loadMessage(this.wanted?.modelPath ?? '', e));
    });
    client.on('log', (line) => {
      if (mine()) this.emit('log', 'info', `[server] ${line}`);
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.idle.stop();
    await this.chain.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }
}

/** Device memory a loaded model holds. */
function usedBytes(r: LoadReport): number {
  return r.weightBytes + r.kvBytes + r.scratchBytes;
}

/** A load failure in words a user can act on. */
function loadMessage(path: string, e: unknown): string {
  const err = e as ServerError;
  const name = basename(path);
  if (err?.code === 'out-of-memory') {
    const need = err.needed !== undefined && err.available !== undefined ? ` (needs ${humanBytes(err.needed)}, ${humanBytes(err.available)} available)` : '';
    return `${name} does not fit in GPU memory${need}: pick a smaller quantization or lower hearth.contextSize. ${err.message}`;
  }
  return `could not load ${name}: ${err?.message ?? String(e)}`;
}
