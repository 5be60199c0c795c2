// The inference process as the extension sees it: picks the runtime (runtime.ts), forks the server
// on it, probes a GPU read-back, loads the model with byte progress and reloads it when its settings
// change. Crashes are the client's to restart; this reports them. Every failure becomes one state
// and one problem per distinct message (until something succeeds again), never a storm. No VS Code
// imports: the integration test drives it under plain Node against the real server.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { InferenceClient, ServerError, type ClientOptions, type LoadReport, type ProbeReport } from '../engine/process/index.js';
import { humanBytes } from './format.js';
import { INSTALL_HINT, resolveRuntime, type Runtime } from './runtime.js';
import type { EngineState } from './state.js';

export interface HostSettings {
  modelPath: string;
  nodePath: string;
  contextSize: number;
}

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
}

export type ProblemKind = 'no-model' | 'model' | 'runtime' | 'gpu' | 'crash';

export interface Problem {
  kind: ProblemKind;
  message: string;
}

export interface EngineHostEvents {
  state: [state: EngineState];
  log: [level: 'info' | 'warn' | 'error', message: string];
  /** Something the user must be told, once per distinct message until the engine works again. */
  problem: [problem: Problem];
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
    `load_tensors: loaded in ${r.loadMs.toFixed(0)} ms`,
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
  /** model path and context size loaded. */
  private loadedKey?: string;
  private wanted?: HostSettings;
  private chain: Promise<void> = Promise.resolve();
  private told = new Set<string>();
  private current: EngineState = { kind: 'starting' };
  private disposed = false;
  report?: LoadReport;

  constructor(private readonly o: EngineHostOptions) {
    super();
  }

  get state(): EngineState {
    return this.current;
  }

  /** The client, while a model is loaded and answering. */
  get ready(): InferenceClient | undefined {
    return this.current.kind === 'ready' ? this.client : undefined;
  }

  get pid(): number | undefined {
    return this.client?.pid;
  }

  /** The client once a model is ready (waiting through a start, load or restart); refused when there is none to wait for. */
  whenReady(): Promise<InferenceClient> {
    return new Promise((resolve, reject) => {
      const check = (s: EngineState): boolean => {
        if (s.kind === 'ready' && this.client) resolve(this.client);
        else if (s.kind === 'no-model') reject(new Error('no model is set: pick a GGUF file (Hearth: Pick Model File) or set hearth.modelPath'));
        else if (s.kind === 'error') reject(new Error(s.message));
        else if (this.disposed) reject(new Error('Hearth is shutting down'));
        else return false;
        return true;
      };
      if (check(this.current)) return;
      const on = (s: EngineState) => { if (check(s)) this.off('state', on); };
      this.on('state', on);
    });
  }

  /** Applies settings: a new nodePath restarts the process, a new model or context size reloads. */
  configure(s: HostSettings): Promise<void> {
    this.wanted = { ...s };
    this.chain = this.chain.then(() => this.apply()).catch((e) => this.fail('crash', `internal error: ${(e as Error)?.stack ?? e}`));
    return this.chain;
  }

  private setState(s: EngineState): void {
    this.current = s;
    if (s.kind === 'ready') this.told.clear();
    this.emit('state', s);
  }

  private fail(kind: ProblemKind, message: string): void {
    this.emit('log', 'error', message);
    this.setState(kind === 'no-model' ? { kind: 'no-model' } : { kind: 'error', message });
    if (!this.told.has(message)) {
      this.told.add(message);
      this.emit('problem', { kind, message });
    }
  }

  private async apply(): Promise<void> {
    const s = this.wanted;
    if (!s || this.disposed) return;
    if (!this.client || s.nodePath !== this.startedFor) {
      if (!(await this.start(s.nodePath))) return;
    }
    if (!s.modelPath) {
      this.loadedKey = undefined;
      this.fail('no-model', 'no model configured: set hearth.modelPath to a GGUF file (Hearth: Pick Model File)');
      return;
    }
    const key = `${s.modelPath}\0${s.contextSize}`;
    if (key === this.loadedKey && this.current.kind === 'ready') return;
    let size: number;
    try {
      const st = statSync(s.modelPath);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      this.loadedKey = undefined;
      this.fail('model', `model file not found: ${s.modelPath} (hearth.modelPath)`);
      return;
    }
    this.setState({ kind: 'loading', loadedBytes: 0, totalBytes: size });
    this.emit('log', 'info', `loading ${s.modelPath} (${humanBytes(size)}, n_ctx ${s.contextSize})`);
    const client = this.client!;
    try {
      const report = await client.load({ model: s.modelPath, backend: this.o.backend ?? 'webgpu', nCtx: s.contextSize, maxDeviceBytes: this.o.maxDeviceBytes });
      if (client !== this.client) return;
      this.loadedKey = key;
      this.onLoaded(report);
    } catch (e) {
      if (client !== this.client) return;
      this.loadedKey = undefined;
      this.fail('model', loadMessage(s.modelPath, e));
    }
  }

  /** Forks the server on the resolved runtime and probes the GPU; false when that failed (already reported). */
  private async start(nodePath: string): Promise<boolean> {
    const old = this.client;
    this.client = undefined;
    this.loadedKey = undefined;
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
    this.emit('loaded', report);
  }

  private wire(client: InferenceClient): void {
    const mine = () => client === this.client;
    client.on('ready', (pid) => {
      if (!mine()) return;
      this.emit('log', 'info', `inference process ${pid} started`);
      this.emit('pid', pid);
    });
    client.on('progress', (loadedBytes, totalBytes) => {
      if (mine() && this.current.kind !== 'error') this.setState({ kind: 'loading', loadedBytes, totalBytes });
    });
    // After a restart the client loads the model again by itself.
    client.on('loaded', (report) => {
      if (mine() && this.current.kind !== 'ready' && this.loadedKey !== undefined) this.onLoaded(report);
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
    await this.chain.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }
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
