// GGUF reader (versions 2 and 3). The header is parsed through a small sliding window over the
// file, so a hostile length can never make us allocate or read more than the file holds; tensor
// data is read lazily by offset.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { GGMLType, typeTraits } from './ggml.js';
import { quoted } from './quoted.js';

export enum GGUFValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

export type GGUFNumericArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigUint64Array | BigInt64Array;
export type GGUFValue = number | bigint | boolean | string | GGUFNumericArray | string[] | boolean[] | GGUFValue[];

export interface GGUFValueTypeInfo { type: GGUFValueType; itemType?: GGUFValueType }

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length (ne0). */
  dims: number[];
  type: GGMLType;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  nbytes: number;
  nelements: number;
}

export interface GGUF {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  dataOffset: number;
  metadata: Map<string, GGUFValue>;
  metadataTypes: Map<string, GGUFValueTypeInfo>;
  tensors: GGUFTensorInfo[];
  tensorByName: Map<string, GGUFTensorInfo>;
}

export class GGUFError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'GGUFError';
  }
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const MAX_DIMS = 4;
const MAX_KEY_BYTES = 65535;
const MAX_NESTING = 4;

const scalarSize: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
};

/** Sequential little-endian reader over a file descriptor with a bounded window. */
class HeaderCursor {
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;

  constructor(private fd: number, readonly path: string, readonly size: number) {}

  fail(what: string): never {
    throw new GGUFError(this.path, what);
  }

  /** Ensures `n` bytes at pos are in the window; `what` names the field for the error. */
  private need(n: number, what: string): number {
    if (this.pos + n > this.size) this.fail(`truncated: ${what} at offset ${this.pos} needs ${n} bytes, file is ${this.size} bytes`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.bufLen) {
      if (n > this.buf.length) this.buf = Buffer.alloc(Math.max(n, this.buf.length * 2));
      this.bufStart = this.pos;
      this.bufLen = readAt(this.fd, this.path, this.buf, 0, Math.min(this.buf.length, this.size - this.pos), this.pos);
      if (this.bufLen < n) this.fail(`short read of ${what} at offset ${this.pos}`);
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(what: string) { return this.buf.readUInt8(this.need(1, what)); }
  i8(what: string) { return this.buf.readInt8(this.need(1, what)); }
  u16(what: string) { return this.buf.readUInt16LE(this.need(2, what)); }
  i16(what: string) { return this.buf.readInt16LE(this.need(2, what)); }
  u32(what: string) { return this.buf.readUInt32LE(this.need(4, what)); }
  i32(what: string) { return this.buf.readInt32LE(this.need(4, what)); }
  f32(what: string) { return this.buf.readFloatLE(this.need(4, what)); }
  f64(what: string) { return this.buf.readDoubleLE(this.need(8, what)); }
  u64big(what: string) { return this.buf.readBigUInt64LE(this.need(8, what)); }
  i64big(what: string) { return this.buf.readBigInt64LE(this.need(8, what)); }

  /** A u64 count or size that must fit in a JS number and in the rest of the file. */
  count(what: string, bytesPerItem: number): number {
    const v = this.u64big(what);
    const remaining = BigInt(this.size - this.pos);
    if (bytesPerItem > 0 && v * BigInt(bytesPerItem) > remaining) {
      this.fail(`${what} = ${v} needs at least ${v * BigInt(bytesPerItem)} bytes but only ${remaining} remain: truncated or corrupt`);
    }
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} = ${v} is too large`);
    return Number(v);
  }

  bytes(n: number, what: string): Buffer {
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }

  string(what: string, maxBytes = Infinity): string {
    const len = this.count(`length of ${what}`, 1);
    if (len > maxBytes) this.fail(`${what}: length ${len} exceeds the limit of ${maxBytes} bytes`);
    return this.bytes(len, what).toString('utf8');
  }
}

/** readSync, with a failure (EIO, EISDIR, ...) named after the file. */
function readAt(fd: number, path: string, buf: Uint8Array, offset: number, length: number, position: number): number {
  try {
    return readSync(fd, buf, offset, length, position);
  } catch (e) {
    throw new GGUFError(path, `cannot read: ${(e as Error).message}`);
  }
}

function openFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new GGUFError(path, `cannot open: ${(e as Error).message}`);
  }
  // A directory opens for reading on Linux and fails only at the first read, without its name.
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new GGUFError(path, `cannot open: ${stat.isDirectory() ? 'it is a directory' : 'it is not a regular file'}`);
  }
  return fd;
}

function readScalar(c: HeaderCursor, type: GGUFValueType, what: string): number | bigint | boolean | string {
  switch (type) {
    case GGUFValueType.UINT8: return c.u8(what);
    case GGUFValueType.INT8: return c.i8(what);
    case GGUFValueType.UINT16: return c.u16(what);
    case GGUFValueType.INT16: return c.i16(what);
    case GGUFValueType.UINT32: return c.u32(what);
    case GGUFValueType.INT32: return c.i32(what);
    case GGUFValueType.FLOAT32: return c.f32(what);
    case GGUFValueType.FLOAT64: return c.f64(what);
    case GGUFValueType.BOOL: {
      const b = c.u8(what);
      if (b > 1) c.fail(`${what}: invalid bool byte ${b}`);
      return b === 1;
    }
    case GGUFValueType.UINT64: { const v = c.u64big(what); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
    case GGUFValueType.INT64: {
      const v = c.i64big(what);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case GGUFValueType.STRING: return c.string(what);
    default: return c.fail(`${what}: unknown value type ${type}`);
  }
}

const typedArrayOf: Partial<Record<GGUFValueType, new (n: number) => GGUFNumericArray>> = {
  [GGUFValueType.UINT8]: Uint8Array, [GGUFValueType.INT8]: Int8Array,
  [GGUFValueType.UINT16]: Uint16Array, [GGUFValueType.INT16]: Int16Array,
  [GGUFValueType.UINT32]: Uint32Array, [GGUFValueType.INT32]: Int32Array,
  [GGUFValueType.FLOAT32]: Float32Array, [GGUFValueType.FLOAT64]: Float64Array,
  [GGUFValueType.UINT64]: BigUint64Array, [GGUFValueType.INT64]: BigInt64Array,
};

function readArray(c: HeaderCursor, what: string, depth: number): { value: GGUFValue; itemType: GGUFValueType } {
  if (depth > MAX_NESTING) c.fail(`${what}: arrays nested deeper than ${MAX_NESTING}`);
  const itemType = c.u32(`item type of ${what}`) as GGUFValueType;
  const size = scalarSize[itemType];
  if (size === undefined && itemType !== GGUFValueType.STRING && itemType !== GGUFValueType.ARRAY) {
    c.fail(`${what}: unknown array item type ${itemType}`);
  }
  // Every string or nested array costs at least 8 bytes (its length), so the count is bounded by the file.
  const n = c.count(`length of ${what}`, size ?? 8);
  const Typed = typedArrayOf[itemType];
  if (Typed && size) {
    const out = new Typed(n);
    const raw = c.bytes(n * size, what);
    new Uint8Array(out.buffer).set(raw);
    return { value: out, itemType };
  }
  if (itemType === GGUFValueType.BOOL) {
    const raw = c.bytes(n, what);
    const out: boolean[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (raw[i] > 1) c.fail(`${what}[${i}]: invalid bool byte ${raw[i]}`);
      out[i] = raw[i] === 1;
    }
    return { value: out, itemType };
  }
  if (itemType === GGUFValueType.STRING) {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = c.string(`${what}[${i}]`);
    return { value: out, itemType };
  }
  const out: GGUFValue[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readArray(c, `${what}[${i}]`, depth + 1).value;
  return { value: out, itemType };
}

/** Parses and validates a GGUF file's header, metadata and tensor infos. Tensor data is not read. */
export function readGGUF(path: string): GGUF {
  const fd = openFile(path);
  try {
    const fileSize = fstatSync(fd).size;
    const c: HeaderCursor = new HeaderCursor(fd, path, fileSize);
    const magic = c.u32('magic');
    if (magic !== GGUF_MAGIC) c.fail(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF")`);
    const version = c.u32('version');
    if (version !== 2 && version !== 3) c.fail(`unsupported GGUF version ${version} (supported: 2, 3)`);
    // Each tensor info is at least 8 (name length) + 4 (n_dims) + 8 (dim) + 4 (type) + 8 (offset) bytes.
    const nTensors = c.count('tensor_count', 32);
    const nKv = c.count('metadata_kv_count', 13);

    const metadata = new Map<string, GGUFValue>();
    const metadataTypes = new Map<string, GGUFValueTypeInfo>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key #${i}`, MAX_KEY_BYTES);
      if (metadata.has(key)) c.fail(`duplicate metadata key ${quoted(key)}`);
      const type = c.u32(`type of metadata ${quoted(key)}`) as GGUFValueType;
      if (type === GGUFValueType.ARRAY) {
        const { value, itemType } = readArray(c, `metadata ${quoted(key)}`, 1);
        metadata.set(key, value);
        metadataTypes.set(key, { type, itemType });
      } else {
        metadata.set(key, readScalar(c, type, `metadata ${quoted(key)}`));
        metadataTypes.set(key, { type });
      }
    }

    const alignValue = metadata.get('general.alignment') ?? 32;
    if (typeof alignValue !== 'number' || alignValue <= 0 || (alignValue & (alignValue - 1)) !== 0 || alignValue > 1 << 20) {
      c.fail(`general.alignment = ${typeof alignValue === 'number' ? alignValue : quoted(String(alignValue))} must be a power of two up to 1 MiB`);
    }
    const alignment = alignValue;

    const raw: { name: string; dims: number[]; type: GGMLType; rel: number; nbytes: number; nelements: number }[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`name of tensor #${i}`, MAX_KEY_BYTES);
      if (seen.has(name)) c.fail(`duplicate tensor name ${quoted(name)}`);
      seen.add(name);
      const nDims = c.u32(`n_dims of tensor ${quoted(name)}`);
      if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor ${quoted(name)}: n_dims = ${nDims} (must be 1..${MAX_DIMS})`);
      const dims: number[] = [];
      let nel = 1n;
      for (let d = 0; d < nDims; d++) {
        const v = c.u64big(`dims[${d}] of tensor ${quoted(name)}`);
        if (v === 0n) c.fail(`tensor ${quoted(name)}: dims[${d}] is 0`);
        nel *= v;
        if (nel > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(`tensor ${quoted(name)}: element count overflows (dims so far ${[...dims, v].join(' x ')})`);
        dims.push(Number(v));
      }
      const type = c.u32(`type of tensor ${quoted(name)}`) as GGMLType;
      const traits = typeTraits(type);
      if (!traits) c.fail(`tensor ${quoted(name)}: unknown ggml type ${type}`);
      if (dims[0] % traits.blockSize !== 0) {
        c.fail(`tensor ${quoted(name)}: row length ${dims[0]} is not a multiple of the ${traits.name} block size ${traits.blockSize}`);
      }
      const nelements = Number(nel);
      const nbytes = (nelements / traits.blockSize) * traits.typeSize;
      const off = c.u64big(`offset of tensor ${quoted(name)}`);
      if (off > BigInt(fileSize)) c.fail(`tensor ${quoted(name)}: offset ${off} is past the end of the file (${fileSize} bytes)`);
      const rel = Number(off);
      if (rel % alignment !== 0) c.fail(`tensor ${quoted(name)}: offset ${rel} is not aligned to ${alignment}`);
      raw.push({ name, dims, type, rel, nbytes, nelements });
    }

    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors: GGUFTensorInfo[] = raw.map((t) => {
      const offset = dataOffset + t.rel;
      if (offset + t.nbytes > fileSize) {
        c.fail(`tensor ${quoted(t.name)}: data [${offset}, ${offset + t.nbytes}) runs past the end of the file (${fileSize} bytes); the file is truncated or corrupt`);
      }
      return { name: t.name, dims: t.dims, type: t.type, offset, nbytes: t.nbytes, nelements: t.nelements };
    });
    const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < byOffset.length; i++) {
      const prev = byOffset[i - 1];
      if (prev.offset + prev.nbytes > byOffset[i].offset) {
        c.fail(`tensors ${quoted(prev.name)} and ${quoted(byOffset[i].name)} overlap`);
      }
    }
    return { path, version, fileSize, alignment, dataOffset, metadata, metadataTypes, tensors, tensorByName: new Map(tensors.map((t) => [t.name, t])) };
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` bytes of a tensor's data starting `start` bytes into it. */
export function readTensorBytes(g: GGUF, t: GGUFTensorInfo, start = 0, length = t.nbytes - start): Uint8Array {
  if (start < 0 || length < 0 || start + length > t.nbytes) {
    throw new GGUFError(g.path, `tensor ${quoted(t.name)}: read [${start}, ${start + length}) is outside its ${t.nbytes} bytes`);
  }
  const out = new Uint8Array(length);
  const fd = openFile(g.path);
  try {
    let done = 0;
    while (done < length) {
      const n = readAt(fd, g.path, out, done, length - done, t.offset + start + done);
      if (n === 0) throw new GGUFError(g.path, `tensor ${quoted(t.name)}: file ended while reading (was it truncated after opening?)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function missing(g: GGUF, key: string, kind: string): never {
  throw new GGUFError(g.path, `missing metadata ${quoted(key)} (${kind})`);
}

export function metaString(g: GGUF, key: string, def?: string): string {
  const v = g.metadata.get(key);
  if (v === undefined) return def ?? missing(g, key, 'string');
  if (typeof v !== 'string') throw new GGUFError(g.path, `metadata ${quoted(key)} should be a string`);
  return v;
}

export function metaNumber(g: GGUF, key: string, def?: number): number {
  const v = g.metadata.get(key);
  if (v === undefined) return def ?? missing(g, key, 'number');
  if (typeof v === 'bigint') throw new GGUFError(g.path, `metadata ${quoted(key)} = ${v} is out of range`);
  if (typeof v !== 'number') throw new GGUFError(g.path, `metadata ${quoted(key)} should be a number`);
  return v;
}

export function metaBool(g: GGUF, key: string, def?: boolean): boolean {
  const v = g.metadata.get(key);
  if (v === undefined) return def ?? missing(g, key, 'bool');
  if (typeof v !== 'boolean') throw new GGUFError(g.path, `metadata ${quoted(key)} should be a bool`);
  return v;
}

export function metaArray(g: GGUF, key: string, def?: GGUFValue): Exclude<GGUFValue, number | bigint | boolean | string> {
  const v = g.metadata.get(key) ?? def;
  if (v === undefined) return missing(g, key, 'array');
  if (typeof v !== 'object') throw new GGUFError(g.path, `metadata ${quoted(key)} should be an array`);
  return v;
}
