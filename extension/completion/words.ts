// Partial accepts: how much of a suggestion the next word or the next line is. A word is an
// identifier (letters, digits, _ and $, any script), or a run of other non-blank characters, with
// the blanks before it; a suggestion that starts a new line takes the newline and its indentation too.

const IDENT = /^[\p{L}\p{N}\p{M}_$]+/u;
const OTHER = /^[^\s\p{L}\p{N}\p{M}_$]+/u;

export function nextWord(s: string): string {
  const lead = /^[ \t]*/.exec(s)![0];
  let rest = s.slice(lead.length);
  let head = lead;
  if (rest.startsWith('\n') || rest.startsWith('\r\n')) {
    const nl = rest.startsWith('\r\n') ? '\r\n' : '\n';
    const indent = /^[ \t]*/.exec(rest.slice(nl.length))![0];
    head += nl + indent;
    rest = rest.slice(nl.length + indent.length);
  }
  const m = IDENT.exec(rest) ?? OTHER.exec(rest);
  return head + (m ? m[0] : '');
}

export function nextLine(s: string): string {
  const nl = s.indexOf('\n');
  if (nl < 0) return s;
  if (s.slice(0, nl).trim() !== '') return s.slice(0, nl).replace(/\r$/, '');
  const end = s.indexOf('\n', nl + 1);
  return (end < 0 ? s : s.slice(0, end)).replace(/\r$/, '');
}
