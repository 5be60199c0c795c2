// Fill-in-the-middle prompt layout, chosen so that typing keeps the KV cache valid:
//
//   [<|repo_name|>repo\n] [<|file_sep|>chunk name\n chunk text]... [<|file_sep|>name\n] <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|> L
//
// L is the current line up to the cursor: the only part that changes on most keystrokes, so it comes
// last and each keystroke re-runs a few tokens. The model reads it as the start of the middle, which
// is what it is. P is whole lines before the cursor line, from an anchor line that stays put while it
// fits (it moves only when the window overflows, and then to 3/4 of the budget, so the next move is
// far off). S is whole lines after the cursor (its first line is the rest of the cursor line), which
// do not change as the user types. Each part is tokenized on its own, so a change in one never
// re-tokenizes another. A new line moves one line from L into P: that re-runs the line and S.
// Context chunks (other files, copied text) come first, as repo-level FIM does: they change only when
// the caller's list changes, so they stay cached while the user types.

export interface FimTokens {
  pre: number;
  suf: number;
  mid: number;
  /** Qwen2.5-Coder's <|file_sep|>: the file name goes before the prompt when present. */
  fileSep?: number;
  /** Qwen2.5-Coder's <|repo_name|>: the repository name heads a prompt with context chunks. */
  repo?: number;
}

export interface FimChunk {
  name: string;
  text: string;
}

export interface FimInput {
  prefix: string;
  suffix: string;
  fileName?: string;
  /** Oldest first; those that do not fit their share are dropped from the front. Needs fileSep. */
  context?: FimChunk[];
  repoName?: string;
}

export interface FimPrompt {
  tokens: number[];
  /** Characters of the document left out to fit the budget. */
  trimmedChars: number;
  /** Offset in the prefix where the prompt's prefix window starts (a line start). */
  prefixStart: number;
  /** Offset in the suffix where the prompt's suffix window ends. */
  suffixEnd: number;
  /** Context chunks that made it into the prompt (the last ones of the list). */
  contextChunks: number;
}

export type Encode = (text: string) => number[];

/** Budget share of the suffix window: it is re-run whenever a line is completed, so it is kept short. */
const SUFFIX_SHARE = 1 / 4;
/** Budget share the cursor line may take before its far end is cut. */
const LINE_SHARE = 1 / 8;
/** Budget share the context chunks may take: the document around the cursor matters more. */
const CONTEXT_SHARE = 1 / 3;
/** After an overflow the prefix window is refilled to this share of its budget. */
const REFILL = 3 / 4;
const MEMO_LINES = 50_000;

/** Start of the line that ends (newline included) at `at`. */
function lineStartBefore(s: string, at: number): number {
  return at <= 1 ? 0 : s.lastIndexOf('\n', at - 2) + 1;
}

export class FimLayout {
  private readonly lineCounts = new Map<string, number>();
  private readonly encoded = new Map<string, number[]>();
  private readonly chunkTokens = new Map<string, number[]>();
  private anchor: { fileName: string; offset: number } | undefined;

  constructor(private readonly encode: Encode, private readonly t: FimTokens) {}

  /** Lays out a prompt of at most `budget` tokens. */
  build(input: FimInput, budget: number): FimPrompt {
    const { prefix, suffix } = input;
    const headEnd = prefix.lastIndexOf('\n') + 1;
    let header: number[] = [];
    if (input.fileName && this.t.fileSep !== undefined) header = [this.t.fileSep, ...this.cached(input.fileName + '\n')];
    if (header.length > budget / 4) header = [];
    const { tokens: context, chunks: contextChunks } = this.contextWindow(input, Math.floor(budget * CONTEXT_SHARE));
    const avail = budget - context.length - header.length - 3;
    if (avail < 0) throw new Error(`fill-in-the-middle prompt: a budget of ${budget} tokens leaves no room for the text`);

    // The cursor line, cut from its far (left) end if it is huge (minified code).
    let lineStart = headEnd;
    let line = this.encode(prefix.slice(lineStart));
    const lineCap = Math.max(1, Math.floor(avail * LINE_SHARE));
    while (line.length > lineCap) {
      const keep = Math.floor(((prefix.length - lineStart) * lineCap) / line.length * 0.9);
      lineStart = prefix.length - Math.max(0, keep);
      line = this.encode(prefix.slice(lineStart));
    }
    if (line.length > avail) line = [];

    const suffixEnd = this.suffixWindow(suffix, Math.floor((avail - line.length) * SUFFIX_SHARE));
    const suf = this.cached(suffix.slice(0, suffixEnd));
    const prefixBudget = avail - line.length - suf.length;
    const { start, tokens: pre } = this.prefixWindow(prefix, headEnd, prefixBudget, input.fileName ?? '');

    const tokens = [...context, ...header, this.t.pre, ...pre, this.t.suf, ...suf, this.t.mid, ...line];
    const trimmedChars = start + (lineStart - headEnd) + (suffix.length - suffixEnd);
    return { tokens, trimmedChars, prefixStart: start, suffixEnd, contextChunks };
  }

  /** The repo header and as many of the newest chunks as fit `budget`, in their given order. */
  private contextWindow(input: FimInput, budget: number): { tokens: number[]; chunks: number } {
    const list = input.context ?? [];
    if (!list.length || this.t.fileSep === undefined) return { tokens: [], chunks: 0 };
    const repo = this.t.repo !== undefined && input.repoName ? [this.t.repo, ...this.encode(input.repoName + '\n')] : [];
    const parts: number[][] = [];
    let used = repo.length;
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      const text = `${c.name}\n${c.text.endsWith('\n') ? c.text : c.text + '\n'}`;
      let t = this.chunkTokens.get(text);
      if (!t) {
        if (this.chunkTokens.size >= 256) this.chunkTokens.clear();
        t = [this.t.fileSep, ...this.encode(text)];
        this.chunkTokens.set(text, t);
      }
      if (used + t.length > budget) break;
      used += t.length;
      parts.unshift(t);
    }
    if (!parts.length) return { tokens: [], chunks: 0 };
    return { tokens: [...repo, ...parts.flat()], chunks: parts.length };
  }

  private count(line: string): number {
    let n = this.lineCounts.get(line);
    if (n === undefined) {
      if (this.lineCounts.size >= MEMO_LINES) this.lineCounts.clear();
      n = this.encode(line).length;
      this.lineCounts.set(line, n);
    }
    return n;
  }

  /** Tokens of a window's text; the last few windows are kept, so same-line keystrokes cost nothing. */
  private cached(text: string): number[] {
    let t = this.encoded.get(text);
    if (!t) {
      if (this.encoded.size >= 4) this.encoded.delete(this.encoded.keys().next().value!);
      t = this.encode(text);
      this.encoded.set(text, t);
    }
    return t;
  }

  /** End offset of the longest run of whole lines from the cursor that fits `budget` tokens. */
  private suffixWindow(suffix: string, budget: number): number {
    let end = 0;
    let used = 0;
    while (end < suffix.length) {
      const nl = suffix.indexOf('\n', end);
      const next = nl < 0 ? suffix.length : nl + 1;
      used += this.count(suffix.slice(end, next));
      if (used > budget) break;
      end = next;
    }
    // Whole-window tokenization can differ from the per-line sum; drop lines until it fits.
    while (end > 0 && this.cached(suffix.slice(0, end)).length > budget) end = lineStartBefore(suffix, end);
    return end;
  }

  private prefixWindow(prefix: string, headEnd: number, budget: number, fileName: string): { start: number; tokens: number[] } {
    const isLineStart = (o: number) => o === 0 || prefix[o - 1] === '\n';
    let start: number | undefined;
    const a = this.anchor;
    if (a && a.fileName === fileName && a.offset <= headEnd && isLineStart(a.offset)) {
      if (this.cached(prefix.slice(a.offset, headEnd)).length <= budget) start = a.offset;
    }
    if (start === undefined) {
      // Walk back over whole lines; take the file start if it all fits, else refill to REFILL.
      const refill = Math.floor(budget * REFILL);
      let used = 0;
      let at = headEnd;
      let refillAt = headEnd;
      while (at > 0) {
        const prev = lineStartBefore(prefix, at);
        used += this.count(prefix.slice(prev, at));
        if (used > budget) break;
        at = prev;
        if (used <= refill) refillAt = at;
      }
      start = at === 0 ? 0 : refillAt;
    }
    let tokens = this.cached(prefix.slice(start, headEnd));
    while (tokens.length > budget && start < headEnd) {
      start = prefix.indexOf('\n', start) + 1;
      tokens = this.cached(prefix.slice(start, headEnd));
    }
    this.anchor = { fileName, offset: start };
    return { start, tokens };
  }
}
