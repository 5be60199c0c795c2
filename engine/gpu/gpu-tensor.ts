// Weight tensors in GPU memory, split into row ranges so that each part fits one storage binding
// (maxStorageBufferBindingSize). Two layouts:
// - raw: the file's ggml bytes, which the kernels decode in place;
// - int8 (CPU adapters, Q8_0 / Q4_0 / Q5_0 / Q4_K / Q5_K / Q6_K): the same quants regrouped so a CPU's
//   SIMD lanes, one row each, load neighbouring words: per unit of 32 weights an f32 scale (and a
//   second f32: Q4_K's min, or the scale of Q6_K's second 16 weights), and the unit's quants as words
//   (8 of int8 (Q6_K's 6 bits widened to a byte), or 4 of nibbles: weight i in the low nibble of
//   byte i, weight i + 16 in its high nibble, plus for Q5_0 and Q5_K a word of fifth bits), each field
//   interleaved over groups of 8 rows.
import { GGMLType, rowBytes, typeName } from '../gguf/ggml.js';
import { Gpu, GpuError, type MemoryKind } from './gpu.js';
import { f16ToF32, minK4, scaleK4 } from '../gguf/quant.js';

export type TensorLayout = 'raw' | 'int8';

/** Weight types with an int8 layout: words of quants per unit of 32, how mins are kept, unit alignment. */
export const INT8_LAYOUTS: ReadonlyMap<GGMLType, { words: 4 | 5 | 8; mins: 'none' | 'offset' | 'stored' | 'halves'; offset: number; cols: number }> = new Map([
  [GGMLType.Q8_0, { words: 8, mins: 'none', offset: 0, cols: 32 }],
  // Q4_0 and Q5_0 weights are d (q - offset): the kernel subtracts offset times the activations' sum.
  [GGMLType.Q4_0, { words: 4, mins: 'offset', offset: 8, cols: 32 }],
  [GGMLType.Q5_0, { words: 5, mins: 'offset', offset: 16, cols: 32 }],
  [GGMLType.Q4_K, { words: 4, mins: 'stored', offset: 0, cols: 256 }],
  [GGMLType.Q5_K, { words: 5, mins: 'stored', offset: 0, cols: 256 }],
  // Q6_K has a scale per 16 weights: the second field holds the unit's second one.
  [GGMLType.Q6_K, { words: 8, mins: 'halves', offset: 0, cols: 256 }],
] as const);

/** Rows interleaved word by word in the int8 layout (a CPU's SIMD width in 32-bit lanes). */
export const INT8_GROUP = 8;

/** The int8 layout keeps a second f32 per unit (a min, or a second scale). */
function secondField(type: GGMLType): boolean {
  const m = INT8_LAYOUTS.get(type)!.mins;
  return m === 'stored' || m === 'halves';
}

/** Word offsets of the int8 layout's fields in a part of `rows` rows. */
export function int8Regions(type: GGMLType, rows: number, cols: number): { minOffset: number; quantOffset: number; bytes: number } {
  const l = INT8_LAYOUTS.get(type)!;
  const units = Math.ceil(rows / INT8_GROUP) * INT8_GROUP * (cols / 32);
  const minOffset = units;
  const quantOffset = secondField(type) ? 2 * units : units;
  return { minOffset, quantOffset, bytes: (quantOffset + units * l.words) * 4 };
}

/** Whether a weight of `type` and `cols` columns can take the int8 layout. */
export function hasInt8Layout(type: GGMLType, cols: number): boolean {
  const l = INT8_LAYOUTS.get(type);
  return !!l && cols % l.cols === 0;
}

export interface GpuTensorPart {
  /** Holds rows firstRow .. firstRow + rows - 1, back to back, starting at byte 0. */
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
}

export interface GpuTensor {
  name: string;
  type: GGMLType;
  layout: TensorLayout;
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

/** Row ranges of whole rows (of `multiple` rows but the last), each part (with its padding) at most `maxBytes`. */
export function splitRows(name: string, rows: number, rowSize: number, maxBytes: number, multiple = 1): RowRange[] {
  const fit = Math.floor((maxBytes - (maxBytes % 16) - 16) / rowSize);
  const per = fit - (fit % multiple);
  if (per < 1) throw new GpuError(`tensor "${name}": ${multiple > 1 ? `${multiple} rows are` : 'one row is'} ${rowSize * multiple} bytes, over the device's storage binding limit of ${maxBytes} bytes`);
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

/** Parts of a tensor in a layout and the bytes each takes on the device. */
function layoutParts(name: string, type: GGMLType, dims: number[], layout: TensorLayout, maxBytes: number): (RowRange & { bytes: number })[] {
  const s = shape(name, type, dims);
  if (layout === 'raw') return splitRows(name, s.rows, s.rowBytes, maxBytes).map((p) => ({ ...p, bytes: partBytes(p.rows * s.rowBytes) }));
  if (!hasInt8Layout(type, s.cols)) throw new GpuError(`tensor "${name}" (${typeName(type)}, ${dims.join(' x ')}) has no int8 layout`);
  const perRow = int8Regions(type, INT8_GROUP, s.cols).bytes / INT8_GROUP;
  return splitRows(name, s.rows, perRow, maxBytes, INT8_GROUP).map((p) => ({ ...p, bytes: partBytes(int8Regions(type, p.rows, s.cols).bytes) }));
}

/** Device bytes a tensor will take, parts padded as allocTensor pads them. */
export function tensorDeviceBytes(name: string, type: GGMLType, dims: number[], maxBinding: number, layout: TensorLayout = 'raw'): number {
  return layoutParts(name, type, dims, layout, maxBinding).reduce((a, p) => a + p.bytes, 0);
}

export interface TensorOptions {
  kind?: MemoryKind;
  /** Largest part; the device's binding limit by default (tests lower it to exercise splitting). */
  maxPartBytes?: number;
  layout?: TensorLayout;
}

/** Allocates (uninitialized) parts for a tensor. */
export function allocTensor(gpu: Gpu, name: string, type: GGMLType, dims: number[], o: TensorOptions = {}): GpuTensor {
  const s = shape(name, type, dims);
  const kind = o.kind ?? 'weights';
  const layout = o.layout ?? 'raw';
  const maxPart = Math.min(o.maxPartBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
  const parts = layoutParts(name, type, dims, layout, maxPart).map((p, i, all) => ({
    firstRow: p.firstRow,
    rows: p.rows,
    buffer: gpu.buffer(all.length > 1 ? `${name}[${i}]` : name, p.bytes, kind),
  }));
  return { name, type, layout, ...s, parts };
}

/**
 * Converts `rows` raw rows (a part's rows from `first`, a multiple of INT8_GROUP unless they end the
 * part) into the int8 layout's words, written by `write(wordOffset, words)` into a part of
 * `partRows` rows.
 */
function writeInt8Rows(t: GpuTensor, partRows: number, first: number, raw: Uint8Array, write: (word: number, data: Uint32Array | Float32Array) => void): void {
  const l = INT8_LAYOUTS.get(t.type)!;
  const nu = t.cols / 32, rows = raw.length / t.rowBytes, words = l.words;
  const units = Math.ceil(rows / INT8_GROUP) * INT8_GROUP * nu;
  const scales = new Float32Array(units), mins = new Float32Array(secondField(t.type) ? units : 0);
  const quants = new Uint32Array(units * words);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  // Blocks of 32: bytes per block, and where its quant words (and Q5_0's fifth bits) start.
  const block = { [GGMLType.Q8_0]: { size: 34, qs: 2, qh: 0 }, [GGMLType.Q4_0]: { size: 18, qs: 2, qh: 0 }, [GGMLType.Q5_0]: { size: 22, qs: 6, qh: 2 } }[t.type as number];
  for (let r = 0; r < rows; r++) {
    const lane = r % INT8_GROUP, g = (r - lane) / INT8_GROUP, row = r * t.rowBytes;
    for (let u = 0; u < nu; u++) {
      // Unit u of row r: scale at s, quant word i at q + i * INT8_GROUP.
      const s = (g * nu + u) * INT8_GROUP + lane, q = (s - lane) * words + lane;
      if (block) {
        const o = row + u * block.size;
        scales[s] = f16ToF32(dv.getUint16(o, true));
        for (let i = 0; i < 4; i++) quants[q + i * INT8_GROUP] = dv.getUint32(o + block.qs + 4 * i, true);
        if (words === 8) for (let i = 4; i < 8; i++) quants[q + i * INT8_GROUP] = dv.getUint32(o + block.qs + 4 * i, true);
        if (words === 5) quants[q + 4 * INT8_GROUP] = dv.getUint32(o + block.qh, true);
      } else if (t.type === GGMLType.Q6_K) {
        // Unit j of a super-block: half n = j / 4, quarter q = j % 4 of it. Weight l takes a nibble
        // of ql (the high one for q >= 2) and bits 2q, 2q + 1 of qh; int8 scales per 16 weights.
        const o = row + (u >> 3) * 210, j = u & 7, n = j >> 2, qq = j & 3;
        const d = f16ToF32(dv.getUint16(o + 208, true));
        scales[s] = d * dv.getInt8(o + 192 + 2 * j);
        mins[s] = d * dv.getInt8(o + 193 + 2 * j);
        const ql = o + 64 * n + 32 * (qq & 1), qh = o + 128 + 32 * n, shift = (qq >> 1) * 4;
        for (let i = 0; i < 8; i++) {
          const lo = (dv.getUint32(ql + 4 * i, true) >>> shift) & 0x0f0f0f0f;
          const hi = (dv.getUint32(qh + 4 * i, true) >>> (2 * qq)) & 0x03030303;
          // Bytes 0..63, minus 32 in each byte without borrows between them.
          quants[q + i * INT8_GROUP] = (((lo | (hi << 4)) | 0x80808080) - 0x20202020 ^ 0x80808080) >>> 0;
        }
      } else {
        // Q4_K / Q5_K: sub-block u % 8 of super-block u / 8 takes the low (even) or high (odd)
        // nibbles of its 32-byte chunk of qs; weights i and i + 16 go to byte i's low and high
        // nibbles. Q5_K's fifth bit of weight l of sub-block j is bit j of qh[l].
        const k5 = t.type === GGMLType.Q5_K;
        const o = row + (u >> 3) * (k5 ? 176 : 144), j = u & 7;
        scales[s] = f16ToF32(dv.getUint16(o, true)) * scaleK4(raw, o + 4, j);
        mins[s] = f16ToF32(dv.getUint16(o + 2, true)) * minK4(raw, o + 4, j);
        if (k5) {
          let h = 0;
          for (let l = 0; l < 32; l++) h |= ((raw[o + 16 + l] >> j) & 1) << l;
          quants[q + 4 * INT8_GROUP] = h >>> 0;
        }
        const qs = o + (k5 ? 48 : 16) + 32 * (j >> 1), shift = (j & 1) * 4;
        for (let i = 0; i < 4; i++) {
          const lo = (dv.getUint32(qs + 4 * i, true) >>> shift) & 0x0f0f0f0f;
          const hi = (dv.getUint32(qs + 16 + 4 * i, true) >>> shift) & 0x0f0f0f0f;
          quants[q + i * INT8_GROUP] = (lo | (hi << 4)) >>> 0;
        }
      }
    }
  }
  const region = int8Regions(t.type, partRows, t.cols);
  const g0 = (first / INT8_GROUP) * nu * INT8_GROUP;
  write(g0, scales);
  if (secondField(t.type)) write(region.minOffset + g0, mins);
  write(region.quantOffset + g0 * words, quants);
}

/**
 * Streams tensor data to the device in chunks of `chunkBytes`, waiting for the queue every
 * `windowBytes` so Dawn's staging copies never pile up: host memory stays bounded by the window,
 * not the model.
 */
export class Uploader {
  private pending = 0;

  constructor(private readonly gpu: Gpu, private readonly chunkBytes = 4 << 20, private readonly windowBytes = 32 << 20) {}

  /** Copies the tensor's bytes (raw ggml rows), read by `read(start, length)` from its source, into its parts in its layout. */
  async upload(t: GpuTensor, read: (start: number, length: number) => Uint8Array, onBytes?: (n: number) => void): Promise<void> {
    // int8 chunks are whole groups of rows.
    const chunkRows = t.layout === 'raw' ? 0 : Math.max(1, Math.floor(this.chunkBytes / (t.rowBytes * INT8_GROUP))) * INT8_GROUP;
    for (const p of t.parts) {
      const base = p.firstRow * t.rowBytes;
      const size = p.rows * t.rowBytes;
      const step = t.layout === 'raw' ? this.chunkBytes : chunkRows * t.rowBytes;
      for (let off = 0; off < size; off += step) {
        const n = Math.min(step, size - off);
        const bytes = read(base + off, n);
        if (t.layout === 'raw') this.gpu.write(p.buffer, bytes, off);
        else writeInt8Rows(t, p.rows, off / t.rowBytes, bytes, (word, data) => this.gpu.write(p.buffer, data, word * 4));
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
    releaseTensor(gpu, t);
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
