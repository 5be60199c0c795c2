// Weight tensors in GPU memory: the file's raw ggml bytes (kernels decode them in place), split
// into row ranges so that each part fits one storage binding (maxStorageBufferBindingSize).
import { GGMLType, rowBytes, typeName } from './ggml.js';
import { Gpu, GpuError, type MemoryKind } from './gpu.js';

export interface GpuTensorPart {
  /** Holds rows firstRow .. firstRow + rows - 1, back to back, starting at byte 0. */
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
}

export interface GpuTensor {
  name: string;
  type: GGMLType;
  /** Elements per row (ggml dims[0]). */
  cols: number;
  /** Rows (product of ggml dims[1..]). */
  rows: number;
  rowBytes: number;
  parts: GpuTensorPart[];
}

export interface RowRange { firstRow: number; rows: number }

// Each part carries at least 4 bytes past its last row, so kernels may read the word after a
// field that ends unaligned (see dequant8.wgsl), and is a multiple of 16 bytes.
const partBytes = (dataBytes: number) => Math.ceil((dataBytes + 4) / 16) * 16;

/** Row ranges of whole rows, each part (with its padding) at most `maxBytes`. */
export function splitRows(name: string, rows: number, rowSize: number, maxBytes: number): RowRange[] {
  const per = Math.floor((maxBytes - (maxBytes % 16) - 16) / rowSize);
  if (per < 1) throw new GpuError(`tensor "${name}": one row is ${rowSize} bytes, over the device's storage binding limit of ${maxBytes} bytes`);
  const out: RowRange[] = [];
  for (let r = 0; r < rows; r += per) out.push({ firstRow: r, rows: Math.min(per, rows - r) });
  return out;
}

function shape(name: string, type: GGMLType, dims: number[]): { cols: number; rows: number; rowBytes: number } {
  const cols = dims[0];
  const rows = dims.slice(1).reduce((a, b) => a * b, 1);
  try {
    return { cols, rows, rowBytes: rowBytes(type, cols) };
  } catch (e) {
    throw new GpuError(`tensor "${name}" (${typeName(type)}, ${dims.join(' x ')}): ${(e as Error).message}`);
  }
}

/** Device bytes a tensor will take, parts padded as allocTensor pads them. */
export function tensorDeviceBytes(name: string, type: GGMLType, dims: number[], maxBinding: number): number {
  const s = shape(name, type, dims);
  return splitRows(name, s.rows, s.rowBytes, maxBinding).reduce((a, p) => a + partBytes(p.rows * s.rowBytes), 0);
}

export interface TensorOptions {
  kind?: MemoryKind;
  /** Largest part; the device's binding limit by default (tests lower it to exercise splitting). */
  maxPartBytes?: number;
}

/** Allocates (uninitialized) parts for a tensor. */
export function allocTensor(gpu: Gpu, name: string, type: GGMLType, dims: number[], o: TensorOptions = {}): GpuTensor {
  const s = shape(name, type, dims);
  const kind = o.kind ?? 'weights';
  const maxPart = Math.min(o.maxPartBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
  const parts = splitRows(name, s.rows, s.rowBytes, maxPart).map((p, i, all) => ({
    ...p,
    buffer: gpu.buffer(all.length > 1 ? `${name}[${i}]` : name, partBytes(p.rows * s.rowBytes), kind),
  }));
  return { name, type, ...s, parts };
}

/**
 * Streams tensor data to the device in chunks of `chunkBytes`, waiting for the queue every
 * `windowBytes` so Dawn's staging copies never pile up: host memory stays bounded by the window,
 * not the model.
 */
export class Uploader {
  private pending = 0;

  constructor(private readonly gpu: Gpu, private readonly chunkBytes = 4 << 20, private readonly windowBytes = 32 << 20) {}

  /** Copies the tensor's bytes, read by `read(start, length)` from its source, into its parts. */
  async upload(t: GpuTensor, read: (start: number, length: number) => Uint8Array, onBytes?: (n: number) => void): Promise<void> {
    for (const p of t.parts) {
      const base = p.firstRow * t.rowBytes;
      const size = p.rows * t.rowBytes;
      for (let off = 0; off < size; off += this.chunkBytes) {
        const n = Math.min(this.chunkBytes, size - off);
        this.gpu.write(p.buffer, read(base + off, n), off);
        this.pending += n;
        onBytes?.(n);
        if (this.pending >= this.windowBytes) await this.flush();
      }
    }
  }

  async flush(): Promise<void> {
    this.pending = 0;
    await this.gpu.done();
  }
}

/** A tensor from bytes already in memory (tests, small tensors). */
export async function tensorFromBytes(gpu: Gpu, name: string, type: GGMLType, dims: number[], bytes: Uint8Array, o: TensorOptions = {}): Promise<GpuTensor> {
  const t = allocTensor(gpu, name, type, dims, o);
  if (bytes.byteLength !== t.rows * t.rowBytes) {
    throw new GpuError(`tensor "${name}": ${bytes.byteLength} bytes given, ${typeName(type)} ${dims.join(' x ')} needs ${t.rows * t.rowBytes}`);
  }
  const up = new Uploader(gpu);
  await up.upload(t, (s, n) => bytes.subarray(s, s + n));
  await up.flush();
  return t;
}

export function releaseTensor(gpu: Gpu, t: GpuTensor): void {
  for (const p of t.parts) gpu.release(p.buffer);
}
