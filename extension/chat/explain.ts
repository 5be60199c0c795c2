// The questions "Explain selection" and "Ask Hearth about this file" send: the code with its file
// name, language and a few lines around it, bounded so a huge selection or file cannot flood the
// context (what was cut is said, never silent). No VS Code imports.

export interface CodeContext {
  fileName: string;
  languageId: string;
  /** The document's lines. */
  lines: readonly string[];
  /** 0-based, inclusive. */
  startLine: number;
  endLine: number;
}

export interface Question {
  text: string;
  /** Shown above the question in the transcript. */
  label: string;
  /** Set when the code was cut to fit. */
  notice?: string;
}

/** Most characters of selected code sent (about 4k tokens). */
export const MAX_SELECTION_CHARS = 16_000;
/** Most characters of a whole file sent. */
export const MAX_FILE_CHARS = 24_000;
/** Lines of context shown before and after a selection. */
export const AROUND_LINES = 5;

const fence = (code: string) => (code.includes('```') ? '~~~~' : '```');

function block(code: string, lang: string): string {
  const f = fence(code);
  return `${f}${lang}\n${code}\n${f}`;
}

export function explainSelection(c: CodeContext): Question | { error: string } {
  const selected = c.lines.slice(c.startLine, c.endLine + 1).join('\n');
  if (!selected.trim()) return { error: 'Select some code to explain first.' };
  let code = selected;
  let notice: string | undefined;
  if (code.length > MAX_SELECTION_CHARS) {
    code = code.slice(0, MAX_SELECTION_CHARS);
    code = code.slice(0, code.lastIndexOf('\n') > 0 ? code.lastIndexOf('\n') : code.length);
    const sentLines = code.split('\n').length;
    notice = `The selection is ${selected.length.toLocaleString('en')} characters; only its first ${sentLines} lines (${code.length.toLocaleString('en')} characters) were sent.`;
  }
  // Blank lines at the edges of the context say nothing (and show as empty rows in the question).
  const edges = /^(?:[ \t]*\r?\n)+|(?:\r?\n[ \t]*)+$/g;
  const before = c.lines.slice(Math.max(0, c.startLine - AROUND_LINES), c.startLine).join('\n').replace(edges, '');
  const after = c.lines.slice(c.endLine + 1, c.endLine + 1 + AROUND_LINES).join('\n').replace(edges, '');
  const where = `${c.fileName}, lines ${c.startLine + 1}-${c.endLine + 1}`;
  const parts = [`Explain what this ${c.languageId} code from ${where} does. Be concise.`, '', block(code, c.languageId)];
  if (before.trim() || after.trim()) {
    parts.push('', 'For context, the lines around it:');
    if (before.trim()) parts.push('', 'Before:', block(before, c.languageId));
    if (after.trim()) parts.push('', 'After:', block(after, c.languageId));
  }
  return { text: parts.join('\n'), label: `Explain selection: ${where}`, ...(notice ? { notice } : {}) };
}

/** The file as context for a question; a long file is cut to the part around `cursorLine`. */
export function askAboutFile(c: Omit<CodeContext, 'startLine' | 'endLine'> & { cursorLine: number }, question: string): Question | { error: string } {
  if (!question.trim()) return { error: 'Type a question about the file.' };
  const whole = c.lines.join('\n');
  let first = 0, last = c.lines.length - 1;
  let notice: string | undefined;
  if (whole.length > MAX_FILE_CHARS) {
    // Grow a window of lines around the cursor until the budget is spent.
    first = last = Math.min(Math.max(0, c.cursorLine), c.lines.length - 1);
    let size = c.lines[first].length;
    for (let grew = true; grew;) {
      grew = false;
      if (first > 0 && size + c.lines[first - 1].length + 1 <= MAX_FILE_CHARS) { first--; size += c.lines[first].length + 1; grew = true; }
      if (last < c.lines.length - 1 && size + c.lines[last + 1].length + 1 <= MAX_FILE_CHARS) { last++; size += c.lines[last].length + 1; grew = true; }
    }
    notice = `${c.fileName} is ${whole.length.toLocaleString('en')} characters; only lines ${first + 1}-${last + 1} (around the cursor) were sent.`;
  }
  const code = c.lines.slice(first, last + 1).join('\n').slice(0, MAX_FILE_CHARS);
  const span = notice ? ` (lines ${first + 1}-${last + 1})` : '';
  const text = [`Here is ${c.fileName}${span}:`, '', block(code, c.languageId), '', question].join('\n');
  return { text, label: `About ${c.fileName}${span}`, ...(notice ? { notice } : {}) };
}
