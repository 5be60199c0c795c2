// Speculative decoding with drafts looked up in the sequence's own tokens (prompt lookup): code
// repeats what the prompt already holds (identifiers, the line below, the suffix), so the tokens
// that followed the latest earlier occurrence of the last few tokens are often what comes next.
// One step runs the last token and its draft (Backend.forwardGreedyAll / forwardAll), whose rows are
// exactly what one-token steps would compute; the leading draft tokens that match the model's own
// picks are kept, with the pick after them, and the cache entries of the rest are overwritten later.
// Greedy output is token for token that of plain decoding. So is sampled output with the same seed:
// each row is sampled in order with the plain path's history, one draw per token, as plain decoding
// draws, and the rows after the first mismatch are never sampled.
import type { Backend } from './backend.js';
import type { Sampler } from './sampler.js';

/** Longest n-gram looked up; the longest one found wins. */
export const NGRAM_MAX = 4;
/** How far back a match is followed to tell how long it is (longer matches are kept more often). */
const MATCH_MAX = 32;

export interface Draft {
  tokens: number[];
  /** How many tokens before the draft match the tokens that end the sequence: the n-gram, followed back up to 32 (0: no draft). */
  match: number;
}

/**
 * Up to `max` tokens that followed the latest earlier occurrence of the longest n-gram (n <=
 * NGRAM_MAX) that ends `tokens`. Where that runs into the end of `tokens`, the draft goes on with
 * itself: what follows the end is what followed its copy (a repeating pattern repeats).
 */
export function lookupDraft(tokens: ArrayLike<number>, max: number): Draft {
  const len = tokens.length;
  if (max <= 0) return { tokens: [], match: 0 };
  for (let n = Math.min(NGRAM_MAX, len - 1); n >= 1; n--) {
    // Latest start j < len - n whose n tokens equal the last n.
    for (let j = len - n - 1; j >= 0; j--) {
      let k = 0;
      while (k < n && tokens[j + k] === tokens[len - n + k]) k++;
      if (k < n) continue;
      const from = j + n;
      const out: number[] = [];
      for (let i = 0; i < max; i++) out.push(from + i < len ? tokens[from + i] : out[from + i - len]);
      let match = n;
      while (match < MATCH_MAX && j + n - match > 0 && tokens[j + n - match - 1] === tokens[len - match - 1]) match++;
      return { tokens: out, match };
    }
  }
  return { tokens: [], match: 0 };
}

/** Most draft tokens a step checks unless told otherwise (DraftPolicy checks fewer where they do not pay). */
export const DEFAULT_DRAFT_TOKENS = 8;

/** The outcome of one step: the tokens it determined (the first is the next token) and how many came from the draft. */
export interface Verified { tokens: number[]; accepted: number }

/**
 * Runs `last` (the newest token, not yet in the cache) and `draft` at pos.. of `seq` in one step
 * and keeps the leading draft tokens the model picks itself. Greedy without `sampler` (the picks
 * are made on the device); else `sampler` samples each row with `history` (the tokens so far,
 * `last` included) and the draft tokens before it, which `history` holds again on return as it came.
 */
export async function verifyDraft(backend: Backend, seq: number, last: number, draft: number[], pos: number, sampler?: Sampler, history?: number[]): Promise<Verified> {
  const tokens = [last, ...draft];
  const out: number[] = [];
  if (!sampler) {
    const picks = await backend.forwardGreedyAll(seq, tokens, pos);
    for (let i = 0; i < tokens.length; i++) {
      out.push(picks[i]);
      if (picks[i] !== draft[i]) break;
    }
    return { tokens: out, accepted: out.length - 1 };
  }
  if (!history) throw new Error('verifyDraft: sampled decoding needs the history');
  const logits = await backend.forwardAll(seq, tokens, pos);
  const nVocab = backend.config.nVocab;
  const start = history.length;
  try {
    for (let i = 0; i < tokens.length; i++) {
      const t = sampler.sample(logits.subarray(i * nVocab, (i + 1) * nVocab), history);
      out.push(t);
      if (t !== draft[i]) break;
      history.push(t);
    }
  } finally {
    history.length = start;
  }
  return { tokens: out, accepted: out.length - 1 };
}

export interface SpeculatorOptions {
  seq: number;
  /** Most draft tokens a step checks (0: plain decoding); held to the backend's maxVerifyTokens. */
  most: number;
  /** Shared by the requests of one sequence, so it keeps what it learned (default: a new one). */
  policy?: DraftPolicy;
  /** Called with the tokens each step leaves in the cache at pos.. (the kept ones). */
  ran?: (pos: number, tokens: number[]) => void;
}

/**
 * Decoding steps, speculative where the backend's steps are exact for every row: each step runs
 * the newest token, with a looked-up draft when the policy deems it worth checking, and counts what
 * it did. Greedy unless `sampler` samples (Sampler.greedy false).
 */
export class Speculator {
  /** Steps run, draft tokens checked, draft tokens kept. */
  steps = 0;
  drafted = 0;
  accepted = 0;
  readonly most: number;
  readonly policy: DraftPolicy;

  constructor(private readonly backend: Backend, private readonly sampler: Sampler, private readonly o: SpeculatorOptions) {
    this.most = Math.max(0, Math.min(o.most, backend.maxVerifyTokens - 1));
    this.policy = o.policy ?? new DraftPolicy(Math.max(1, backend.maxVerifyTokens));
  }

  /**
   * Runs `last` at `pos` and returns the tokens that follow it: one, or also the draft tokens the
   * model kept (in the cache already, unlike the last one). `history` is every token so far, `last`
   * included; `room` the most tokens after the next one that may still be used (drafts stop there).
   */
  async next(last: number, pos: number, history: number[], room: number): Promise<number[]> {
    const sampler = this.sampler.greedy ? undefined : this.sampler;
    const draft = this.most > 0 && room > 0 ? lookupDraft(history, Math.min(room, this.most)) : undefined;
    const d = draft && draft.match > 0 ? this.policy.length(draft.tokens.length, draft.match) : 0;
    const t0 = performance.now();
    this.steps++;
    if (d === 0) {
      const next = sampler ? sampler.sample(await this.backend.forward(this.o.seq, [last], pos), history) : await this.backend.forwardGreedy(this.o.seq, [last], pos);
      this.o.ran?.(pos, [last]);
      this.policy.timed(1, performance.now() - t0);
      return [next];
    }
    const tokens = draft!.tokens.slice(0, d);
    const v = await verifyDraft(this.backend, this.o.seq, last, tokens, pos, sampler, history);
    // The cache holds the kept tokens; the entries of the refused ones are overwritten later.
    this.o.ran?.(pos, [last, ...tokens.slice(0, v.accepted)]);
    this.policy.timed(d + 1, performance.now() - t0);
    this.policy.outcome(draft!.match, d, v.accepted);
    this.drafted += d;
    this.accepted += v.accepted;
    return v.tokens;
  }
}

/** Weight of the latest outcome in the acceptance estimate, and of the latest timing in a step size's cost. */
const ACCEPT_DECAY = 0.9;
const COST_RATE = 0.25;
/** Match lengths 1, 2-3, 4-7, 8-15, 16 and more each have their own acceptance. */
const BUCKETS = 5;
/** Drafts of one match length declined this many times in a row, the next one is checked a token's worth anyway. */
const EXPLORE_EVERY = 16;

const bucket = (match: number) => Math.min(BUCKETS - 1, Math.floor(Math.log2(Math.max(1, match))));

/**
 * How many draft tokens a step checks: the count that maximizes expected tokens per millisecond.
 * A draft token is taken to be kept with probability p (by match length: longer matches are kept
 * more often), given the one before it was, so d of them yield 1 + p + ... + p^d tokens; a step's
 * cost by its token count is learned from the steps themselves. On GPUs, where a step of a few tokens
 * costs about what one costs, that is nearly every draft; on a CPU only the likely ones. An estimate
 * that says no is only revised by checking, so a long run of declined drafts checks one token.
 */
export class DraftPolicy {
  /** Decayed counts of kept and refused draft tokens, and drafts declined in a row, per match length bucket. */
  private readonly kept = new Float64Array(BUCKETS);
  private readonly refused = new Float64Array(BUCKETS);
  private readonly declined = new Uint32Array(BUCKETS);
  /** Milliseconds per step by token count (0: not measured yet). */
  private readonly ms: Float64Array;

  constructor(readonly maxTokens: number) {
    this.ms = new Float64Array(maxTokens + 1);
  }

  /** Records the wall time of a step of n tokens (a plain step is n = 1). */
  timed(n: number, ms: number): void {
    if (n < 1 || n >= this.ms.length || !(ms > 0)) return;
    const c = this.ms[n];
    // One slow step (another process on the device's cores) moves the estimate at most twofold.
    this.ms[n] = c === 0 ? ms : c + COST_RATE * (Math.min(2 * c, Math.max(c / 2, ms)) - c);
  }

  /** Records a checked draft: `drafted` tokens after a match of `match` tokens, the first `accepted` kept. */
  outcome(match: number, drafted: number, accepted: number): void {
    const b = bucket(match);
    this.kept[b] = this.kept[b] * ACCEPT_DECAY + accepted;
    this.refused[b] = this.refused[b] * ACCEPT_DECAY + (accepted < drafted ? 1 : 0);
  }

  /** The chance that a draft token after a match of `match` tokens is kept (a prior of one kept, one refused). */
  acceptance(match: number): number {
    const b = bucket(match);
    return (this.kept[b] + 1) / (this.kept[b] + this.refused[b] + 2);
  }

  /** Draft tokens worth checking out of `available` after a match of `match` tokens. */
  length(available: number, match: number): number {
    const most = Math.min(available, this.maxTokens - 1);
    if (most <= 0) return 0;
    const d = this.best(most, this.acceptance(match));
    const b = bucket(match);
    if (d > 0) this.declined[b] = 0;
    else if (++this.declined[b] >= EXPLORE_EVERY) {
      this.declined[b] = 0;
      return 1;
    }
    return d;
  }

  private best(most: number, p: number): number {
    let best = 0, bestRate = 0, expected = 0, q = 1;
    for (let d = 0; d <= most; d++) {
      expected += q;
      q *= p;
      const rate = expected / this.cost(d + 1);
      if (rate > bestRate) {
        best = d;
        bestRate = rate;
      }
    }
    return best;
  }

  /** A step's estimated cost: measured, else interpolated between the nearest measured sizes, else that of the largest measured below it. */
  private cost(n: number): number {
    if (this.ms[n] > 0) return this.ms[n];
    let lo = n - 1, hi = n + 1;
    while (lo >= 1 && this.ms[lo] === 0) lo--;
    while (hi < this.ms.length && this.ms[hi] === 0) hi++;
    if (lo >= 1 && hi < this.ms.length) return this.ms[lo] + ((this.ms[hi] - this.ms[lo]) * (n - lo)) / (hi - lo);
    if (lo >= 1) return this.ms[lo];
    // Nothing measured at or below n: a step is taken to cost about the same whatever its size, so drafts get tried.
    return hi < this.ms.length ? this.ms[hi] : 1;
  }
}
