// The WebGPU device (Dawn's Node bindings) and the few helpers every kernel shares: buffers that are
// accounted by purpose, uploads in bounded chunks, readbacks that reject when the device is lost,
// and compute pipelines compiled once with their WGSL diagnostics in the error.
import { WaitEstimate } from './wait.js';

export class GpuError extends Error {
  /** 'device-lost' when the device is gone (nothing on it can run again). */
  constructor(message: string, readonly code?: 'device-lost' | 'out-of-memory') {
    super(message);
    this.name = 'GpuError';
  }
}

/** The model does not fit: carries the bytes needed and available. */
export class OutOfMemoryError extends GpuError {
  constructor(message: string, readonly needed: number, readonly available: number) {
    super(message, 'out-of-memory');
    this.name = 'OutOfMemoryError';
  }
}

const NO_ADAPTER = [
  'no WebGPU adapter found.',
  'Hearth runs on the GPU through Vulkan (Linux), Metal (macOS) or Direct3D 12 (Windows): update the graphics driver.',
  "On Linux without a GPU, install Mesa's software Vulkan driver (lavapipe), version 24 or newer — on Debian",
  'bookworm: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` — and make sure',
  'XDG_RUNTIME_DIR points to a private directory (mkdir -p /tmp/xdg && chmod 700 /tmp/xdg && export XDG_RUNTIME_DIR=/tmp/xdg).',
].join(' ');

// Limits raised to the adapter's maximum: weights are large and kernels use big workgroups.
const WANTED_LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxUniformBufferBindingSize',
] as const;

/** Submitted work a readback waits for: its kind, its size in units of that kind, when it was submitted. */
export interface GpuWork { kind: string; units: number; since: number }

export type MemoryKind = 'weights' | 'kv' | 'scratch';

let gpuInstance: GPU | undefined;

/**
 * Dawn is loaded on first use, not on import: modules that only size tensors and buffers (the fit
 * check the extension runs, engine/models/fit.ts) import this file without loading the native module.
 */
async function navigatorGpu(): Promise<GPU> {
  if (!gpuInstance) {
    const { create, globals } = await import('webgpu');
    // GPUBufferUsage, GPUMapMode and friends are globals in the WebGPU API.
    Object.assign(globalThis, globals);
    // Dawn rounds timestamps to a coarse step unless told not to; profiles (gpu-profile.ts) need them exact.
    gpuInstance = create(['disable-dawn-features=timestamp_quantization']);
  }
  return gpuInstance;
}

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (e.g. lavapipe): its "VRAM" is system memory. */
  software: boolean;
}

/** Optional features are used when the adapter has them; false leaves one off (to test the fallbacks). */
export interface GpuOptions {
  f16?: boolean;
  subgroups?: boolean;
}

export interface PipelineOptions {
  /** Appears in errors and in Dawn's validation messages. */
  label: string;
  code: string;
  entryPoint?: string;
  constants?: Record<string, number>;
}

export class Gpu {
  readonly info: GpuInfo;
  /** shader-f16 is enabled: kernels may declare f16 storage and arithmetic. */
  readonly f16: boolean;
  /** subgroups is enabled: kernels may use subgroup builtins. */
  readonly subgroups: boolean;
  /** timestamp-query is enabled: passes can be timed (gpu-profile.ts). */
  readonly timestamps: boolean;
  /** Bytes currently allocated per purpose (what the load report prints). */
  readonly allocated: Record<MemoryKind, number> = { weights: 0, kv: 0, scratch: 0 };

  private lostError: GpuError | undefined;
  private readonly lostPromise: Promise<never>;
  private readonly errors: string[] = [];
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  /** Pipelines compiled by this process, on every device (what the server's stats report). */
  static compiled = 0;
  private readonly sizes = new Map<GPUBuffer, { size: number; kind: MemoryKind }>();
  private disposed = false;
  /** How long readbacks of each kind of work sleep before polling. */
  private readonly waits = new WaitEstimate();

  private constructor(readonly device: GPUDevice, info: GpuInfo) {
    this.info = info;
    this.f16 = device.features.has('shader-f16');
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
    this.lostPromise = device.lost.then((l) => {
      this.lostError = this.disposed ? new GpuError('GPU device was released') : new GpuError(`GPU device lost (${l.reason}): ${l.message}`, 'device-lost');
      throw this.lostError;
    });
    this.lostPromise.catch(() => undefined);
    device.onuncapturederror = (ev) => {
      // Keep the first few: later ones are usually consequences of the first.
      if (this.errors.length < 8) this.errors.push(ev.error.message.trim());
    };
  }

  /** Acquires the first (high-performance) adapter and a device with its maximum limits. */
  static async create(o: GpuOptions = {}): Promise<Gpu> {
    const adapter = await (await navigatorGpu()).requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new GpuError(NO_ADAPTER);
    const features: GPUFeatureName[] = [];
    if (o.f16 !== false && adapter.features.has('shader-f16')) features.push('shader-f16');
    if (o.subgroups !== false && adapter.features.has('subgroups')) features.push('subgroups');
    if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
    const requiredLimits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) requiredLimits[k] = adapter.limits[k];
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits, label: 'hearth' });
    } catch (e) {
      throw new GpuError(`could not create a WebGPU device on ${adapter.info.description || adapter.info.vendor}: ${(e as Error).message}`);
    }
    const a = adapter.info;
    const software = a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(`${a.architecture} ${a.description} ${a.device}`);
    return new Gpu(device, { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, software });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throws the device-lost or first validation error, if any happened. */
  check(): void {
    if (this.lostError) throw this.lostError;
    if (this.errors.length) throw new GpuError(`WebGPU error: ${this.errors.join('\n')}`);
  }

  /** Resolves when all submitted work finished; rejects if the device is lost meanwhile. */
  async done(): Promise<void> {
    this.check();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]);
    this.check();
  }

  /** A storage buffer (size rounded up to 16 bytes), counted under `kind`. */
  buffer(label: string, size: number, kind: MemoryKind, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC): GPUBuffer {
    this.check();
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    if (padded > this.limits.maxBufferSize) {
      throw new GpuError(`buffer "${label}" needs ${padded} bytes, over the device's maxBufferSize ${this.limits.maxBufferSize}`);
    }
    const b = this.device.createBuffer({ label, size: padded, usage });
    this.sizes.set(b, { size: padded, kind });
    this.allocated[kind] += padded;
    return b;
  }

  /** A uniform buffer holding `data` (written once; rewrite with writeUniform). */
  uniform(label: string, data: ArrayBuffer | ArrayBufferView): GPUBuffer {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const b = this.buffer(label, bytes.byteLength, 'scratch', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.write(b, bytes);
    return b;
  }

  release(b: GPUBuffer): void {
    const s = this.sizes.get(b);
    if (s) {
      this.allocated[s.kind] -= s.size;
      this.sizes.delete(b);
    }
    b.destroy();
  }

  /** queue.writeBuffer with the 4-byte size rule handled (the tail is zero-padded). */
  write(b: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const whole = bytes.byteLength & ~3;
    if (whole) this.device.queue.writeBuffer(b, offset, bytes, 0, whole);
    if (whole !== bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      this.device.queue.writeBuffer(b, offset + whole, tail);
    }
  }

  /**
   * Copies `size` bytes at `offset` of `b` (which needs COPY_SRC) to the host. Rejects when the
   * device is lost or an earlier command raised a validation error (its results would be garbage).
   */
  async read(b: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    this.check();
    const padded = Math.ceil(size / 4) * 4;
    const staging = this.device.createBuffer({ label: 'readback', size: padded, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder({ label: 'readback' });
      enc.copyBufferToBuffer(b, offset, staging, 0, padded);
      this.device.queue.submit([enc.finish()]);
      await this.mapRead(staging);
      return staging.getMappedRange(0, padded).slice(0, size);
    } finally {
      staging.destroy();
    }
  }

  /**
   * mapAsync(READ) that rejects when the device is lost instead of waiting forever. With `work` (what
   * was submitted before the copy into `staging`), a wait expected to be long sleeps through most of
   * it first (engine/gpu/wait.ts): polling keeps a core busy, and on a software adapter that core is
   * one the GPU needs (a lavapipe decode step took ~30% longer while polled).
   */
  async mapRead(staging: GPUBuffer, work?: GpuWork): Promise<void> {
    const sleep = work ? this.waits.sleepMs(work.kind, work.units, performance.now() - work.since) : 0;
    if (sleep > 0) await new Promise((r) => setTimeout(r, sleep));
    const woke = performance.now();
    await Promise.race([staging.mapAsync(GPUMapMode.READ), this.lostPromise]);
    this.check();
    const now = performance.now();
    if (work) this.waits.observe(work.kind, work.units, now - work.since, sleep, now - woke);
  }

  /** Compiles (once per distinct code/entry/constants) a compute pipeline with an 'auto' layout. */
  pipeline(o: PipelineOptions): Promise<GPUComputePipeline> {
    const entryPoint = o.entryPoint ?? 'main';
    const key = `${entryPoint}\0${JSON.stringify(o.constants ?? {})}\0${o.code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      Gpu.compiled++;
      p = this.compile(o.label, o.code, entryPoint, o.constants);
      this.pipelines.set(key, p);
    }
    return p;
  }

  private async compile(label: string, code: string, entryPoint: string, constants?: Record<string, number>): Promise<GPUComputePipeline> {
    this.check();
    const module = this.device.createShaderModule({ label, code });
    try {
      return await this.device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint, constants } });
    } catch (e) {
      const info = await module.getCompilationInfo();
      const lines = code.split('\n');
      const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `  line ${m.lineNum}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`);
      // The uncaptured-error handler saw the same failure; it is reported here with context instead.
      this.errors.length = 0;
      throw new GpuError(`kernel "${label}" failed to compile: ${(e as Error).message.trim()}${msgs.length ? '\n' + msgs.join('\n') : ''}`);
    }
  }

  /** Binds buffers[i] at binding i; undefined entries are skipped (bindings an entry point does not use). */
  bindGroup(label: string, pipeline: GPUComputePipeline, buffers: (GPUBuffer | GPUBufferBinding | undefined)[]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    buffers.forEach((b, i) => {
      if (b) entries.push({ binding: i, resource: 'buffer' in b ? b : { buffer: b } });
    });
    return this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
  }

  /** Releases the device; pending reads reject. */
  destroy(): void {
    this.disposed = true;
    this.device.destroy();
  }
}

/** A pipeline with its bind group, recorded into a compute pass with a workgroup count. */
export class Dispatch {
  /** Dispatches recorded by this process (what a step's host cost is counted in). */
  static recorded = 0;
  /**
   * Pipelines recorded for the first time by this process. A driver may compile a pipeline only at
   * its first dispatch: lavapipe JIT-compiles each then (a minute or more for a model's kernels on a
   * cold shader cache), so a loaded model's warm-up leaves none for requests.
   */
  static firstUses = 0;
  /** While set, record() skips pipelines already recorded once: a warm-up dispatches each pipeline once. */
  static firstUsesOnly = false;
  private static readonly used = new WeakSet<GPUComputePipeline>();

  constructor(readonly pipeline: GPUComputePipeline, readonly bindGroup: GPUBindGroup) {}

  record(pass: GPUComputePassEncoder, x: number, y = 1, z = 1): void {
    if (!Dispatch.used.has(this.pipeline)) {
      Dispatch.used.add(this.pipeline);
      Dispatch.firstUses++;
    } else if (Dispatch.firstUsesOnly) {
      return;
    }
    Dispatch.recorded++;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
}

/** Runs `record` in one compute pass on its own command buffer and submits it. */
export function submitPass(gpu: Gpu, label: string, record: (pass: GPUComputePassEncoder) => void): void {
  const enc = gpu.device.createCommandEncoder({ label });
  const pass = enc.beginComputePass({ label });
  record(pass);
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
}
