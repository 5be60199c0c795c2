// Suggestions by the document text around the cursor. A lookup finds an entry whose text before
// the cursor is a prefix of the current one (same text after it): what was typed since is the start
// of the suggestion, so the rest is shown again without a request (type-through), and after a
// backspace the earlier suggestion comes back. Least recently used entries go first.

export interface CacheKey {
  /** The document (its URI). */
  doc: string;
  /** The prefix window's first line: the prefix text is counted from there. */
  anchor: number;
  prefix: string;
  suffix: string;
}

interface Entry extends CacheKey {
  items: string[];
  longest: number;
}

export interface CacheHit {
  /** The remaining text of each suggestion, best first. */
  items: string[];
  /** What was typed since the suggestion was made. */
  typed: string;
}

export class SuggestionCache {
  private entries: Entry[] = [];

  constructor(private readonly max = 250) {}

  get size(): number {
    return this.entries.length;
  }

  put(key: CacheKey, items: string[]): void {
    const kept = items.filter((s) => s.length > 0);
    this.entries = this.entries.filter((e) => !same(e, key));
    if (!kept.length) return;
    this.entries.push({ ...key, items: kept, longest: Math.max(...kept.map((s) => s.length)) });
    if (this.entries.length > this.max) this.entries.shift();
  }

  /** The most specific entry that the current text types through (longest matching prefix, then newest). */
  lookup(key: CacheKey): CacheHit | undefined {
    let best: { e: Entry; items: string[] } | undefined;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      const typedLen = key.prefix.length - e.prefix.length;
      if (e.doc !== key.doc || e.anchor !== key.anchor || typedLen < 0 || typedLen >= e.longest) continue;
      if (best && e.prefix.length <= best.e.prefix.length) continue;
      if (e.suffix.length !== key.suffix.length || e.suffix !== key.suffix || !key.prefix.startsWith(e.prefix)) continue;
      const typed = key.prefix.slice(e.prefix.length);
      const items = e.items.filter((s) => s.length > typed.length && s.startsWith(typed)).map((s) => s.slice(typed.length));
      if (items.length) best = { e, items };
    }
    if (!best) return undefined;
    // Used again: it moves to the back, the newest end.
    this.entries.splice(this.entries.indexOf(best.e), 1);
    this.entries.push(best.e);
    return { items: best.items, typed: key.prefix.slice(best.e.prefix.length) };
  }

  clear(): void {
    this.entries = [];
  }
}

function same(a: CacheKey, b: CacheKey): boolean {
  return a.doc === b.doc && a.anchor === b.anchor && a.prefix === b.prefix && a.suffix === b.suffix;
}
