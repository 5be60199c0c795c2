// One sequence of the backend's KV cache and the tokens it holds. Completion and chat each own a
// slot, so neither evicts the other's prefix. A request keeps the longest common token prefix of
// its prompt with what the slot holds and prefills only the rest.

/** Length of the longest common prefix of two token sequences. */
export function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface PrefillPlan {
  /** Prompt tokens whose cache entries are kept. */
  reuse: number;
  /** Tokens to run, at positions reuse.. (never empty: the last prompt token's logits are needed). */
  tokens: number[];
}

export class Slot {
  /** Tokens whose KV entries sit at positions 0..length-1 of the sequence. */
  private held: number[] = [];

  constructor(readonly name: string, readonly seq: number) {}

  get length(): number {
    return this.held.length;
  }

  get tokens(): readonly number[] {
    return this.held;
  }

  /**
   * What to run for `prompt`. With `reuse` false everything is prefilled again (for measurements).
   * A prompt the cache already holds entirely still re-runs its last token to get fresh logits.
   */
  plan(prompt: number[], reuse = true): PrefillPlan {
    if (prompt.length === 0) throw new Error(`slot ${this.name}: empty prompt`);
    const keep = reuse ? Math.min(commonPrefix(this.held, prompt), prompt.length - 1) : 0;
    return { reuse: keep, tokens: prompt.slice(keep) };
  }

  /** Records that `tokens` were run at positions pos.. (the backend replaced everything from pos). */
  ran(pos: number, tokens: number[]): void {
    if (pos > this.held.length) throw new Error(`slot ${this.name}: forward at ${pos} leaves a gap after ${this.held.length} cached tokens`);
    this.held.length = pos;
    for (const t of tokens) this.held.push(t);
  }

  /** Forgets everything (after a failed forward the cache contents are unknown). */
  clear(): void {
    this.held = [];
  }
}
