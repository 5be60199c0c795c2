// GGUF writer for fixtures, tests and the benchmark. Tensor data may be given as bytes or produced
// row-block by row-block through a callback, so a model larger than memory can be written.
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { GGMLType, typeTraits } from './ggml.js';
import { GGUF, GGUFValueType, GGUF_MAGIC } from './gguf.js';

export interface GGUFMetaEntry { key: string; type: GGUFValueType; value: unknown; itemType?: GGUFValueType }

export interface GGUFWriteTensor {
  name: string;
  dims: number[];
  type: GGMLType;
  /** The tensor's bytes, or a generator yielding them in pieces (concatenated in order). */
  data: Uint8Array | (() => Iterable<Uint8Array>);
}

export interface GGUFWriteOptions {
  metadata: GGUFMetaEntry[];
  tensors: GGUFWriteTensor[];
  version?: 2 | 3;
  alignment?: number;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer) { this.chunks.push(b); this.length += b.length; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  concat() { return Buffer.concat(this.chunks); }
}

function writeScalar(s: ByteSink, type: GGUFValueType, v: unknown, key: string) {
  const b8 = Buffer.alloc(8);
  switch (type) {
    case GGUFValueType.UINT8: b8.writeUInt8(Number(v)); s.push(b8.subarray(0, 1)); break;
    case GGUFValueType.INT8: b8.writeInt8(Number(v)); s.push(b8.subarray(0, 1)); break;
    case GGUFValueType.UINT16: b8.writeUInt16LE(Number(v)); s.push(b8.subarray(0, 2)); break;
    case GGUFValueType.INT16: b8.writeInt16LE(Number(v)); s.push(b8.subarray(0, 2)); break;
    case GGUFValueType.UINT32: b8.writeUInt32LE(Number(v)); s.push(b8.subarray(0, 4)); break;
    case GGUFValueType.INT32: b8.writeInt32LE(Number(v)); s.push(b8.subarray(0, 4)); break;
    case GGUFValueType.FLOAT32: b8.writeFloatLE(Number(v)); s.push(b8.subarray(0, 4)); break;
    case GGUFValueType.FLOAT64: b8.writeDoubleLE(Number(v)); s.push(b8); break;
    case GGUFValueType.UINT64: b8.writeBigUInt64LE(BigInt(v as number)); s.push(b8); break;
    case GGUFValueType.INT64: b8.writeBigInt64LE(BigInt(v as number)); s.push(b8); break;
    case GGUFValueType.BOOL: s.push(Buffer.from([v ? 1 : 0])); break;
    case GGUFValueType.STRING: s.str(String(v)); break;
    default: throw new Error(`GGUF writer: metadata "${key}" has unsupported type ${type}`);
  }
}

function writeValue(s: ByteSink, e: { type: GGUFValueType; value: unknown; itemType?: GGUFValueType }, key: string) {
  if (e.type !== GGUFValueType.ARRAY) return writeScalar(s, e.type, e.value, key);
  if (e.itemType === undefined) throw new Error(`GGUF writer: array "${key}" needs an itemType`);
  const items = e.value as ArrayLike<unknown>;
  s.u32(e.itemType);
  s.u64(items.length);
  if (e.itemType === GGUFValueType.ARRAY) {
    // Nested arrays carry their own item types as { itemType, value } entries.
    for (let i = 0; i < items.length; i++) {
      const inner = items[i] as { itemType: GGUFValueType; value: unknown };
      writeValue(s, { type: GGUFValueType.ARRAY, itemType: inner.itemType, value: inner.value }, `${key}[${i}]`);
    }
    return;
  }
  for (let i = 0; i < items.length; i++) writeScalar(s, e.itemType, items[i], key);
}

function tensorBytes(t: GGUFWriteTensor): number {
  const tr = typeTraits(t.type);
  if (!tr) throw new Error(`GGUF writer: tensor "${t.name}" has unknown type ${t.type}`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.dims[0] % tr.blockSize !== 0) throw new Error(`GGUF writer: tensor "${t.name}" row ${t.dims[0]} is not a multiple of ${tr.blockSize}`);
  return (n / tr.blockSize) * tr.typeSize;
}

/** Writes a GGUF file. Tensors are laid out in the given order, each aligned. */
export function writeGGUF(path: string, opts: GGUFWriteOptions): void {
  const version = opts.version ?? 3;
  const alignment = opts.alignment ?? 32;
  const meta = opts.metadata.filter((m) => m.key !== 'general.alignment');
  if (alignment !== 32) meta.push({ key: 'general.alignment', type: GGUFValueType.UINT32, value: alignment });

  const h = new ByteSink();
  h.u32(GGUF_MAGIC);
  h.u32(version);
  h.u64(opts.tensors.length);
  h.u64(meta.length);
  for (const m of meta) {
    h.str(m.key);
    h.u32(m.type);
    writeValue(h, m, m.key);
  }
  const sizes = opts.tensors.map(tensorBytes);
  let rel = 0;
  const offsets: number[] = [];
  opts.tensors.forEach((t, i) => {
    offsets.push(rel);
    h.str(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(t.type);
    h.u64(rel);
    rel += Math.ceil(sizes[i] / alignment) * alignment;
  });
  const header = h.concat();
  const dataOffset = Math.ceil(header.length / alignment) * alignment;

  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    opts.tensors.forEach((t, i) => {
      let pos = dataOffset + offsets[i];
      let written = 0;
      const pieces = t.data instanceof Uint8Array ? [t.data] : t.data();
      for (const piece of pieces) {
        if (written + piece.length > sizes[i]) throw new Error(`GGUF writer: tensor "${t.name}" got more than its ${sizes[i]} bytes`);
        writeSync(fd, piece, 0, piece.length, pos);
        pos += piece.length;
        written += piece.length;
      }
      if (written !== sizes[i]) throw new Error(`GGUF writer: tensor "${t.name}" got ${written} bytes, expected ${sizes[i]}`);
    });
    // ggml pads the last tensor too, so the file ends on an aligned boundary.
    ftruncateSync(fd, Math.max(header.length, dataOffset + rel));
  } finally {
    closeSync(fd);
  }
}

/** Metadata entries of a read GGUF (optionally only keys starting with `prefix`), ready to write. */
export function metadataEntries(g: GGUF, prefix = ''): GGUFMetaEntry[] {
  const out: GGUFMetaEntry[] = [];
  for (const [key, value] of g.metadata) {
    if (!key.startsWith(prefix)) continue;
    const t = g.metadataTypes.get(key)!;
    out.push({ key, type: t.type, value, itemType: t.itemType });
  }
  return out;
}
