// Turns what the model wrote at the cursor into what the editor shows. It runs on every streamed
// token, so it also says when more tokens can no longer change the result (`complete`): the
// completer then shows the suggestion at once and keeps the rest of the stream as the next one.
//
// Rules, in order: with text after the cursor only the first line is kept (minus any repeat of
// that text); the block ends at a line indented less than the cursor line (or, for a suggestion that
// starts on a new line, than its first line), or at a blank line followed by one indented no deeper; a line that repeats the document's next line ends it (the
// model re-writing a closing bracket that is already there); at most maxLines lines; indentation
// is rewritten to the editor's tabs or spaces.

export interface PostContext {
  /** The cursor line up to the cursor. */
  linePrefix: string;
  /** The cursor line after the cursor. */
  lineSuffix: string;
  /** Lines after the cursor line (a few are enough). */
  nextLines: readonly string[];
  insertSpaces: boolean;
  tabSize: number;
  maxLines: number;
}

export interface Processed {
  /** What to show after the cursor ('' for nothing). */
  text: string;
  /** More raw text cannot change `text`. */
  complete: boolean;
  /** Length of the raw text (CRLF read as LF) `text` comes from; when complete, the rest is what follows it. */
  consumed: number;
}

/** Why the generation ended, once it has: a time or length cut leaves a partial last line. */
export type EndReason = 'eos' | 'stop' | 'length' | 'time' | 'cancelled' | 'superseded';

/** Characters that may close what the text after the cursor also closes. */
const CLOSERS = new Set([...')]}>\'"`;:,']);

/** Column width of leading whitespace, tabs counting to the next tab stop. */
export function indentWidth(s: string, tabSize: number): number {
  let w = 0;
  for (const ch of s) {
    if (ch === ' ') w++;
    else if (ch === '\t') w += tabSize - (w % tabSize);
    else break;
  }
  return w;
}

function leading(s: string): string {
  return s.slice(0, s.length - s.trimStart().length);
}

/** Leading whitespace rewritten in the editor's style, keeping its width. */
export function reindent(line: string, insertSpaces: boolean, tabSize: number): string {
  const ws = leading(line);
  if (!ws) return line;
  const w = indentWidth(ws, tabSize);
  const lead = insertSpaces ? ' '.repeat(w) : '\t'.repeat(Math.floor(w / tabSize)) + ' '.repeat(w % tabSize);
  return lead + line.slice(ws.length);
}

/** Removes from the end of `first` what the text after the cursor already has. */
function dropSuffixRepeat(first: string, lineSuffix: string): string {
  const suffix = lineSuffix.trim();
  if (!suffix) return first;
  const trimmed = first.trimEnd();
  if (trimmed.endsWith(suffix)) return trimmed.slice(0, trimmed.length - suffix.length);
  // "a, b)" before ")": the model closed what is already closed.
  let closers = 0;
  while (closers < suffix.length && CLOSERS.has(suffix[closers])) closers++;
  for (let k = Math.min(closers, trimmed.length); k > 0; k--) if (trimmed.endsWith(suffix.slice(0, k))) return trimmed.slice(0, trimmed.length - k);
  return first;
}

export function postProcess(rawText: string, ctx: PostContext, ended?: EndReason): Processed {
  const raw = rawText.replace(/\r\n?/g, '\n');
  const final = ended !== undefined;
  const lines = raw.split('\n');
  // While streaming, the last line may still grow; after a time or length cut it is partial.
  let known = final ? lines.length : lines.length - 1;
  const cutShort = ended === 'time' || ended === 'length' || ended === 'cancelled' || ended === 'superseded';
  if (cutShort && lines.length > 1) known = lines.length - 1;
  const { tabSize } = ctx;
  // A suggestion that starts by ending the cursor line opens its own block: its first line sets the level.
  const startsNewLine = lines[0].trim() === '';
  let base = startsNewLine ? undefined : indentWidth(ctx.linePrefix.trim() ? leading(ctx.linePrefix) : ctx.linePrefix, tabSize);
  const next = ctx.nextLines.find((l) => l.trim() !== '');

  let cut: number | undefined;
  if (ctx.lineSuffix.trim() !== '') {
    if (lines.length > 1) cut = 1;
  } else {
    let seen = !startsNewLine;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      // Indentation is known once a non-blank character follows it, even on a line still streaming.
      const ind = indentWidth(line, tabSize);
      if (base === undefined) base = ind;
      else if (ind < base || (seen && lines[i - 1].trim() === '' && ind <= base)) {
        cut = i;
        break;
      }
      seen = true;
      if (i >= known) break;
      if (next !== undefined && reindent(line, true, tabSize).trimEnd() === reindent(next, true, tabSize).trimEnd()) {
        cut = i;
        break;
      }
      if (i >= ctx.maxLines) {
        cut = i;
        break;
      }
    }
    if (cut === undefined && known > ctx.maxLines) cut = ctx.maxLines;
  }
  const end = cut ?? known;
  const complete = cut !== undefined || final;
  if (!complete) return { text: '', complete: false, consumed: 0 };
  const kept = lines.slice(0, end);
  // Trailing blank lines carry nothing (and belong to what follows).
  while (kept.length > 1 && kept[kept.length - 1].trim() === '') kept.pop();
  const consumed = kept.join('\n').length;
  if (kept.length === 0) return { text: '', complete, consumed };
  if (ctx.lineSuffix.trim() !== '') kept[0] = dropSuffixRepeat(kept[0], ctx.lineSuffix);
  const out = kept.map((l, i) => (i === 0 ? l : reindent(l, ctx.insertSpaces, tabSize)));
  let text = out.join('\n');
  if (text.trim() === '') text = '';
  // A one-line suggestion that is the next line, or the text after the cursor, is a repeat.
  if (out.length === 1 && text) {
    const whole = (ctx.linePrefix + text).trimEnd();
    if (next !== undefined && whole.trim() === next.trim() && whole.trim().length > 0) text = '';
    if (text.trim() === ctx.lineSuffix.trim()) text = '';
  }
  return { text, complete, consumed };
}
