// Helpers for the GPU kernel tests: fresh seeded random data, poisoned output buffers, readback and
// tolerance checks that name the worst element.
import assert from 'node:assert/strict';
import type { Gpu, MemoryKind } from '../../engine/gpu/gpu.js';
import { rng } from './rng.js';
export { rng };

/** A fresh seed per run (HEARTH_SEED reproduces one); tests put it in their failure messages. */
export function freshSeed(): number {
  const env = process.env.HEARTH_SEED;
  return env ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}


/** Uniform in [-scale, scale). */
export function randomF32(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

export function storage(gpu: Gpu, label: string, data: ArrayBufferView, kind: MemoryKind = 'scratch'): GPUBuffer {
  const b = gpu.buffer(label, data.byteLength, kind);
  gpu.write(b, data);
  return b;
}

/** A buffer filled with 0xff bytes: NaN as f32, 0xffffffff as u32, so unwritten outputs show. */
export function poisoned(gpu: Gpu, label: string, bytes: number): GPUBuffer {
  return storage(gpu, label, new Uint8Array(Math.ceil(bytes / 4) * 4).fill(0xff));
}

export async function readF32(gpu: Gpu, b: GPUBuffer, n: number, offset = 0): Promise<Float32Array> {
  return new Float32Array(await gpu.read(b, offset, n * 4));
}

export async function readU32(gpu: Gpu, b: GPUBuffer, n: number, offset = 0): Promise<Uint32Array> {
  return new Uint32Array(await gpu.read(b, offset, n * 4));
}

/** |a - e| <= abs + rel * |e| everywhere (NaN fails); the message names the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { abs: number; rel?: number }, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Number.isNaN(a) || Number.isNaN(e) ? Infinity : Math.abs(a - e) - (tol.abs + (tol.rel ?? 0) * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (tolerance abs ${tol.abs}, rel ${tol.rel ?? 0})`);
  }
}
