// Token sampling with llama.cpp's semantics and order: repetition penalty, top-k, top-p, min-p,
// temperature, then a draw from a seeded PRNG (deterministic per seed and call sequence). `Sampling`
// is the one set of sampling options: the CLI's flags, the protocol's requests and the server use it.
// The device only picks the argmax (Backend.forwardGreedy); everything else samples here, on the logits.

export interface Sampling {
  /** <= 0: greedy (argmax of the penalized logits, lowest id on ties). */
  temperature: number;
  /** Keep the k most likely tokens; 0 keeps all. */
  topK: number;
  /** Keep the smallest prefix (by probability) whose mass reaches topP (at least one token); 1 disables. */
  topP: number;
  /** Drop tokens less likely than minP times the most likely one; 0 disables. */
  minP: number;
  /** Divides positive / multiplies negative logits of recent tokens; 1 disables. */
  repeatPenalty: number;
  /** How many of the latest history tokens are penalized; 0 disables, -1 means all of them. */
  repeatLastN: number;
  /** PRNG seed, an integer in [0, 2^32). */
  seed: number;
}

/** llama.cpp's common defaults (the seed is fixed so runs are reproducible unless chosen otherwise). */
export const defaultSampling: Readonly<Sampling> = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.0,
  repeatLastN: 64,
  seed: 0,
});

function checkSampling(p: Sampling): void {
  const bad = (name: string, why: string) => { throw new Error(`sampler: ${name} = ${(p as unknown as Record<string, unknown>)[name]} ${why}`); };
  if (typeof p.temperature !== 'number' || !Number.isFinite(p.temperature)) bad('temperature', 'must be a finite number');
  if (!Number.isSafeInteger(p.topK) || p.topK < 0) bad('topK', 'must be an integer >= 0');
  if (typeof p.topP !== 'number' || !(p.topP >= 0 && p.topP <= 1)) bad('topP', 'must be in [0, 1]');
  if (typeof p.minP !== 'number' || !(p.minP >= 0 && p.minP <= 1)) bad('minP', 'must be in [0, 1]');
  if (typeof p.repeatPenalty !== 'number' || !(p.repeatPenalty > 0 && Number.isFinite(p.repeatPenalty))) bad('repeatPenalty', 'must be a finite number > 0');
  if (!Number.isSafeInteger(p.repeatLastN) || p.repeatLastN < -1) bad('repeatLastN', 'must be an integer >= -1');
  if (!Number.isSafeInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) bad('seed', 'must be an integer in [0, 2^32)');
}

/** xoshiro128** seeded through splitmix32. */
class Rng {
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
  }

  private u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Sampler {
  readonly params: Readonly<Sampling>;
  private readonly rng: Rng;
  // Scratch reused across calls: penalized logits, candidate ids (sorted by logit, descending), weights.
  private work = new Float32Array(0);
  private ids = new Int32Array(0);
  private weights = new Float64Array(0);
  private readonly seen = new Set<number>();

  constructor(params: Partial<Sampling> = {}) {
    const p = { ...defaultSampling, ...params };
    checkSampling(p);
    this.params = Object.freeze(p);
    this.rng = new Rng(p.seed);
  }

  /** No temperature and no penalty: the pick is the argmax of the raw logits, which the device makes itself. */
  get greedy(): boolean {
    const p = this.params;
    return p.temperature <= 0 && (p.repeatPenalty === 1 || p.repeatLastN === 0);
  }

  /** Picks the next token id from `logits` (not modified); `history` is the context so far (prompt + output). */
  sample(logits: Float32Array, history: ArrayLike<number>): number {
    const n = logits.length;
    if (n === 0) throw new Error('sampler: empty logits');
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(logits[i])) throw new Error(`sampler: logit ${i} of ${n} is NaN`);
    }
    const l = this.penalize(logits, history);
    const p = this.params;
    if (p.temperature <= 0) return argmax(l);

    let count = this.candidates(l);
    const ids = this.ids;
    let top = -Infinity;
    for (let i = 0; i < count; i++) top = Math.max(top, l[ids[i]]);
    if (top === -Infinity) throw new Error(`sampler: all ${n} logits are -Infinity`);
    if (this.weights.length < count) this.weights = new Float64Array(n);
    const w = this.weights;

    if (p.topP < 1 && count > 1) {
      let sum = 0;
      for (let i = 0; i < count; i++) sum += w[i] = Math.exp(l[ids[i]] - top);
      let cum = 0;
      for (let i = 0; i < count; i++) {
        cum += w[i] / sum;
        if (cum >= p.topP) { count = i + 1; break; }
      }
    }
    if (p.minP > 0 && count > 1) {
      // Sorted, so the kept tokens are a prefix: those with p >= minP * p_max.
      const minLogit = top + Math.log(p.minP);
      let keep = 1;
      while (keep < count && l[ids[keep]] >= minLogit) keep++;
      count = keep;
    }

    let sum = 0;
    for (let i = 0; i < count; i++) sum += w[i] = Math.exp((l[ids[i]] - top) / p.temperature);
    const target = this.rng.uniform() * sum;
    let cum = 0;
    for (let i = 0; i < count; i++) {
      cum += w[i];
      if (target < cum) return ids[i];
    }
    return ids[count - 1];
  }

  /** Logits with the repetition penalty applied (a scratch copy), or the input when there is none. */
  private penalize(logits: Float32Array, history: ArrayLike<number>): Float32Array {
    const { repeatPenalty, repeatLastN } = this.params;
    if (repeatPenalty === 1 || repeatLastN === 0 || history.length === 0) return logits;
    const n = logits.length;
    if (this.work.length !== n) this.work = new Float32Array(n);
    const l = this.work;
    l.set(logits);
    const from = repeatLastN < 0 ? 0 : Math.max(0, history.length - repeatLastN);
    const seen = this.seen;
    seen.clear();
    for (let i = from; i < history.length; i++) {
      const t = history[i];
      if (!Number.isInteger(t) || t < 0 || t >= n) throw new Error(`sampler: history token ${t} (position ${i}) is outside the vocabulary of ${n}`);
      if (seen.has(t)) continue; // llama.cpp penalizes each distinct token once
      seen.add(t);
      l[t] = l[t] <= 0 ? l[t] * repeatPenalty : l[t] / repeatPenalty;
    }
    return l;
  }

  /**
   * Fills this.ids with the top-k candidate ids sorted by logit descending (lower id first on ties)
   * and returns how many. Without top-k every id is a candidate, sorted only when top-p/min-p need it.
   */
  private candidates(l: Float32Array): number {
    const n = l.length;
    const { topK, topP, minP } = this.params;
    const k = topK > 0 ? Math.min(topK, n) : n;
    if (this.ids.length < n) this.ids = new Int32Array(n);
    const ids = this.ids;
    if (k === n) {
      for (let i = 0; i < n; i++) ids[i] = i;
      if (topP < 1 || minP > 0) ids.subarray(0, n).sort((a, b) => l[b] - l[a] || a - b);
      return n;
    }
    // Bounded insertion: ids[0..size) stays sorted; scanning ids in increasing order keeps ties stable.
    let size = 0;
    for (let i = 0; i < n; i++) {
      const v = l[i];
      if (size === k && !(v > l[ids[k - 1]])) continue;
      let lo = 0, hi = size;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (l[ids[mid]] >= v) lo = mid + 1; else hi = mid;
      }
      const end = size < k ? size++ : k - 1;
      ids.copyWithin(lo + 1, lo, end);
      ids[lo] = i;
    }
    return k;
  }
}

/** The index of the largest logit, the lowest on ties. */
export function argmax(l: Float32Array): number {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
  return best;
}
