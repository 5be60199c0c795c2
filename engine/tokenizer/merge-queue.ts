// The merge loop shared by the SPM and BPE tokenizers: llama.cpp's work queue of candidate bigrams
// over a linked list of symbols (llm_tokenizer_spm_session / llm_tokenizer_bpe_session). Symbols
// live in typed arrays indexed by their first code unit and candidates in a binary heap of parallel
// typed arrays, so a word of n characters takes O(n log n) time and O(n) memory, with no object or
// string per candidate: a 5 MB word is one pre-token, and the editor cannot always bound it.

/**
 * Rates joining text[start, mid) and text[mid, end) into one symbol: lower merges first, undefined
 * never merges.
 */
export type MergePriority = (start: number, mid: number, end: number) => number | undefined;

/**
 * Merges neighbouring symbols of `text` (initially its characters) until no pair has a priority,
 * lowest first and leftmost on ties. Returns where the symbols left begin, then text.length: symbol
 * k is text.slice(b[k], b[k + 1]) (offsets, not strings, so a huge word costs no string per symbol).
 */
export function mergeSymbols(text: string, priorityOf: MergePriority): Int32Array {
  const n = text.length;
  // len[i]: code units of the symbol starting at unit i (0 once merged into its left neighbour).
  const len = new Int32Array(n);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  let count = 0;
  for (let i = 0, last = -1; i < n; count++) {
    const c = text.charCodeAt(i);
    const w = c >= 0xd800 && c < 0xdc00 && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    len[i] = w;
    prev[i] = last;
    if (last >= 0) next[last] = i;
    last = i;
    next[i] = -1;
    i += w;
  }

  const q = new CandidateQueue(count);
  const add = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const p = priorityOf(left, right, right + len[right]);
    if (p !== undefined) q.push(p, left, right, len[left] + len[right]);
  };
  for (let i = 0; count > 1 && next[i] >= 0; i = next[i]) add(i, next[i]);
  while (q.size > 0) {
    const c = q.pop();
    const left = q.left[c], right = q.right[c], joined = q.joined[c];
    // A candidate is stale once either symbol was merged or the right one grew (the left one can
    // only grow by taking the right one): llama.cpp's size check.
    if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== joined) continue;
    len[left] = joined;
    len[right] = 0;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    add(prev[left], left);
    add(left, next[left]);
  }
  let symbols = 0;
  for (let i = 0; count > 0 && i >= 0; i = next[i]) symbols++;
  const bounds = new Int32Array(symbols + 1);
  for (let i = 0, k = 0; count > 0 && i >= 0; i = next[i]) bounds[k++] = i;
  bounds[symbols] = n;
  return bounds;
}

/**
 * Candidate merges, ordered by priority then left position: a binary heap whose entries keep their
 * sort keys inline (prio, left) beside the index of their other fields, so sifting reads memory
 * along one path.
 */
class CandidateQueue {
  /** Fields of candidate c. */
  right: Int32Array;
  joined: Int32Array;
  left: Int32Array;
  private hPrio: Float64Array;
  private hLeft: Int32Array;
  /** hCand[0, size) are the heap's candidates; hCand[size, capacity) the free indices. */
  private hCand: Int32Array;
  size = 0;

  constructor(capacity: number) {
    capacity = Math.max(capacity, 16);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.joined = new Int32Array(capacity);
    this.hPrio = new Float64Array(capacity);
    this.hLeft = new Int32Array(capacity);
    this.hCand = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.hCand[i] = i;
  }

  push(prio: number, left: number, right: number, joined: number): void {
    if (this.size === this.hCand.length) this.grow();
    const { hPrio, hLeft, hCand } = this;
    const c = hCand[this.size];
    this.left[c] = left; this.right[c] = right; this.joined[c] = joined;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(prio < hPrio[p] || (prio === hPrio[p] && left < hLeft[p]))) break;
      hPrio[i] = hPrio[p]; hLeft[i] = hLeft[p]; hCand[i] = hCand[p];
      i = p;
    }
    hPrio[i] = prio; hLeft[i] = left; hCand[i] = c;
  }

  /** Removes the first candidate and returns its index, whose fields stay valid until the next push. */
  pop(): number {
    const { hPrio, hLeft, hCand } = this;
    const top = hCand[0];
    const size = --this.size;
    const prio = hPrio[size], left = hLeft[size], c = hCand[size];
    // Sift the last entry down from the root.
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= size) break;
      if (m + 1 < size && (hPrio[m + 1] < hPrio[m] || (hPrio[m + 1] === hPrio[m] && hLeft[m + 1] < hLeft[m]))) m++;
      if (!(hPrio[m] < prio || (hPrio[m] === prio && hLeft[m] < left))) break;
      hPrio[i] = hPrio[m]; hLeft[i] = hLeft[m]; hCand[i] = hCand[m];
      i = m;
    }
    hPrio[i] = prio; hLeft[i] = left; hCand[i] = c;
    hCand[size] = top;
    return top;
  }

  private grow(): void {
    const old = this.hCand.length;
    const capacity = old + (old >> 1);
    const widen = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => { const b = make(capacity); b.set(a); return b; };
    const int = (k: number) => new Int32Array(k);
    this.left = widen(this.left, int);
    this.right = widen(this.right, int);
    this.joined = widen(this.joined, int);
    this.hPrio = widen(this.hPrio, (k) => new Float64Array(k));
    this.hLeft = widen(this.hLeft, int);
    this.hCand = widen(this.hCand, int);
    for (let i = old; i < capacity; i++) this.hCand[i] = i;
  }
}
