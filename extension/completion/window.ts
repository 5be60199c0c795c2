// The parts of a document a completion request sends: whole lines before the cursor from an anchor
// line that stays put while the window fits (so the server's cached tokens stay valid as lines are
// added), whole lines after it, both bounded in lines and characters. A cursor line over the
// character bound (minified code, a 5 MB one-line file) gets no completion rather than a slow one.

/** What a document offers: the editor's TextDocument has this shape. */
export interface TextLines {
  readonly lineCount: number;
  lineAt(line: number): { readonly text: string };
}

export const LIMITS = {
  prefixLines: 1024,
  prefixChars: 96_000,
  suffixLines: 256,
  suffixChars: 24_000,
  /** A cursor line longer than this gets no completion. */
  lineChars: 8_000,
  /** Lines after the cursor line kept for the repetition checks. */
  nextLines: 8,
};

export interface DocWindow {
  /** From the anchor line to the cursor. */
  prefix: string;
  /** From the cursor to the end of the suffix window. */
  suffix: string;
  linePrefix: string;
  lineSuffix: string;
  nextLines: string[];
  /** First line of the prefix window. */
  anchor: number;
}

export type WindowResult = { ok: true; window: DocWindow } | { ok: false; reason: string };

/**
 * The window as if the suggest widget's selected entry (`text` over columns start..end of the cursor
 * line) were inserted: a suggestion must extend that entry, so it is completed from there.
 */
export function withSelected(w: DocWindow, line: string, cursor: number, sel: { start: number; end: number; text: string }): DocWindow {
  const before = line.slice(0, sel.start);
  const prefix = w.prefix.slice(0, w.prefix.length - w.linePrefix.length) + before + sel.text;
  const suffix = w.suffix.slice(Math.max(0, sel.end - cursor));
  return { ...w, prefix, suffix, linePrefix: before + sel.text, lineSuffix: line.slice(sel.end) };
}

/** After an overflow the window is refilled to this share of its limits, so the next move is far off. */
const REFILL = 3 / 4;

export class Windows {
  private readonly anchors = new Map<string, number>();

  take(key: string, doc: TextLines, line: number, character: number, limits = LIMITS): WindowResult {
    const text = doc.lineAt(line).text;
    if (text.length > limits.lineChars) return { ok: false, reason: `line ${line + 1} has ${text.length} characters (over ${limits.lineChars})` };
    const linePrefix = text.slice(0, character);
    const lineSuffix = text.slice(character);

    let anchor = this.anchors.get(key);
    if (anchor === undefined || anchor > line || !fits(doc, anchor, line, limits.prefixLines, limits.prefixChars)) {
      anchor = refill(doc, line, Math.floor(limits.prefixLines * REFILL), Math.floor(limits.prefixChars * REFILL));
    }
    this.anchors.set(key, anchor);
    if (this.anchors.size > 64) this.anchors.delete(this.anchors.keys().next().value!);
    const before: string[] = [];
    for (let i = anchor; i < line; i++) before.push(doc.lineAt(i).text);
    const prefix = (before.length ? before.join('\n') + '\n' : '') + linePrefix;

    const after: string[] = [lineSuffix];
    let chars = lineSuffix.length;
    for (let i = line + 1; i < doc.lineCount && after.length <= limits.suffixLines; i++) {
      const t = doc.lineAt(i).text;
      if (chars + t.length + 1 > limits.suffixChars) break;
      chars += t.length + 1;
      after.push(t);
    }
    const nextLines: string[] = [];
    for (let i = line + 1; i < doc.lineCount && nextLines.length < limits.nextLines; i++) nextLines.push(doc.lineAt(i).text.slice(0, limits.lineChars));
    return { ok: true, window: { prefix, suffix: after.join('\n') + (line + 1 < doc.lineCount || after.length > 1 ? '\n' : ''), linePrefix, lineSuffix, nextLines, anchor } };
  }

  forget(key: string): void {
    this.anchors.delete(key);
  }
}

/** Whether lines anchor..line-1 stay within both limits. */
function fits(doc: TextLines, anchor: number, line: number, maxLines: number, maxChars: number): boolean {
  if (line - anchor > maxLines) return false;
  let chars = 0;
  for (let i = anchor; i < line; i++) {
    chars += doc.lineAt(i).text.length + 1;
    if (chars > maxChars) return false;
  }
  return true;
}

/** The earliest anchor whose window up to `line` fits the (refill) limits. */
function refill(doc: TextLines, line: number, maxLines: number, maxChars: number): number {
  let anchor = line;
  let chars = 0;
  while (anchor > 0 && line - anchor < maxLines) {
    const n = doc.lineAt(anchor - 1).text.length + 1;
    if (chars + n > maxChars) break;
    chars += n;
    anchor--;
  }
  return anchor;
}

/** A document that is bytes, not text (NULs, or mostly undecodable or control characters). */
export function looksBinary(sample: string): boolean {
  if (!sample) return false;
  let odd = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0) return true;
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12)) odd++;
  }
  return odd / sample.length > 0.1;
}
