// Text read from a file (names, keys, strings) is untrusted: printed raw, an ESC or CR in a tensor name
// rewrites the user's terminal, and a 64 KiB name floods it. Every message or report that shows such
// text goes through here.

/** At most this many characters of a quoted text are shown. */
export const QUOTE_MAX = 120;

// What JSON.stringify leaves as it is but a terminal acts on or hides: DEL and the C1 controls (0x9b is
// a one-byte CSI), format characters (bidi overrides, zero widths) and the line and paragraph separators.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * `text` made safe to print: escaped as JSON.stringify escapes a string (quotes, backslashes, control
 * characters, lone surrogates), plus the characters above, and cut to `max` characters with an ellipsis.
 * No quotes around it: see quoted().
 */
export function escaped(text: string, max = QUOTE_MAX): string {
  let cut = text;
  if (text.length > max) {
    // Cut at a character, not between the halves of a surrogate pair.
    const end = /[\ud800-\udbff]/.test(text[max - 1]) ? max - 1 : max;
    cut = text.slice(0, end);
  }
  const body = JSON.stringify(cut).slice(1, -1).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut.length < text.length ? `${body}…` : body;
}

/** `text` in double quotes, escaped and cut as escaped() does. */
export function quoted(text: string, max = QUOTE_MAX): string {
  return `"${escaped(text, max)}"`;
}
