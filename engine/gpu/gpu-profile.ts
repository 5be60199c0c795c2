// GPU time per kernel: each kernel of a step gets its own compute pass with timestamps at its start
// and end (WebGPU's timestamp-query), read back after the step. What `hearth bench --profile` prints;
// separate passes add a little time of their own, so the timed benchmark never runs profiled.
import { GpuError, type Gpu } from './gpu.js';

/** Passes one command buffer can time (two queries each; WebGPU allows 4096 queries per set). */
const MAX_PASSES = 2048;

export interface ProfileEntry {
  /** The kernel, as the model labels it (matmul qkv, attention, ...). */
  kernel: string;
  /** Its passes since the profile was last taken. */
  calls: number;
  /** GPU milliseconds, start of its first dispatch to end of its last, summed over calls. */
  ms: number;
}

export class GpuProfile {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  /** Labels of the passes timed in the command buffer being encoded. */
  private labels: string[] = [];
  private readonly totals = new Map<string, ProfileEntry>();
  private readonly reads: Promise<void>[] = [];

  constructor(private readonly gpu: Gpu) {
    if (!gpu.timestamps) throw new GpuError('profiling needs the timestamp-query feature, which this device lacks');
    this.querySet = gpu.device.createQuerySet({ label: 'profile', type: 'timestamp', count: 2 * MAX_PASSES });
    this.resolved = gpu.device.createBuffer({ label: 'profile timestamps', size: 16 * MAX_PASSES, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** A compute pass of `enc` timed under `label`. */
  pass(enc: GPUCommandEncoder, label: string): GPUComputePassEncoder {
    const i = this.labels.length;
    if (i === MAX_PASSES) throw new GpuError(`profile: more than ${MAX_PASSES} kernels in one command buffer`);
    this.labels.push(label);
    return enc.beginComputePass({ label, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
  }

  /** Submits `enc` with its passes' timestamps resolved; they are read in the background. */
  submit(enc: GPUCommandEncoder): void {
    const labels = this.labels;
    this.labels = [];
    let staging: GPUBuffer | undefined;
    if (labels.length) {
      const bytes = 16 * labels.length;
      staging = this.gpu.device.createBuffer({ label: 'profile readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.resolveQuerySet(this.querySet, 0, 2 * labels.length, this.resolved, 0);
      enc.copyBufferToBuffer(this.resolved, 0, staging, 0, bytes);
    }
    this.gpu.device.queue.submit([enc.finish()]);
    if (staging) {
      const read = this.read(staging, labels);
      // A failed read (a lost device) surfaces from take(), not as an unhandled rejection.
      read.catch(() => undefined);
      this.reads.push(read);
    }
  }

  /** Time per kernel since the last take, in the order kernels first ran. */
  async take(): Promise<ProfileEntry[]> {
    await Promise.all(this.reads.splice(0));
    const out = [...this.totals.values()];
    this.totals.clear();
    return out;
  }

  private async read(staging: GPUBuffer, labels: string[]): Promise<void> {
    try {
      await this.gpu.mapRead(staging);
      const t = new BigUint64Array(staging.getMappedRange());
      labels.forEach((kernel, i) => {
        const e = this.totals.get(kernel) ?? { kernel, calls: 0, ms: 0 };
        e.calls++;
        // An end before its start (a device whose clock resets) counts as nothing rather than as 2^64 ns.
        e.ms += t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) / 1e6 : 0;
        this.totals.set(kernel, e);
      });
      staging.unmap();
    } finally {
      staging.destroy();
    }
  }
}
