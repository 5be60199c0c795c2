// Unicode helpers for the tokenizers, answering every question the way llama.cpp does: codepoint
// categories as llama.cpp's unicode_cpt_flags, UTF-8 conversion with U+FFFD for bad input, and the
// GPT-2 byte <-> printable-character mapping used by byte-level BPE vocabularies.

// Category flags, one per codepoint (llama.cpp unicode_cpt_flags). OUT_OF_RANGE (0) is what the
// splitters see past the end of a piece.
export const OUT_OF_RANGE = 0;
export const UNDEFINED = 0x0001;
export const NUMBER = 0x0002; // \p{N}
export const LETTER = 0x0004; // \p{L}
export const SEPARATOR = 0x0008; // \p{Z}
export const ACCENT_MARK = 0x0010; // \p{M}
export const PUNCTUATION = 0x0020; // \p{P}
export const SYMBOL = 0x0040; // \p{S}
export const CONTROL = 0x0080; // \p{C}
export const CATEGORY_MASK = 0x00ff;
export const WHITESPACE = 0x0100; // Unicode White_Space, not JavaScript's \s

// llama.cpp's tables come from Unicode 15.1. Codepoints first assigned in Unicode 16 and 17 (which
// this Node's RegExp knows) are unassigned there, so they must read as UNDEFINED here too.
const ASSIGNED_AFTER_15_1: readonly number[] = [
  0x88f, 0x88f, 0x897, 0x897, 0xc5c, 0xc5c, 0xcdc, 0xcdc, 0x1acf, 0x1add, 0x1ae0, 0x1aeb, 0x1b4e, 0x1b4f,
  0x1b7f, 0x1b7f, 0x1c89, 0x1c8a, 0x20c1, 0x20c1, 0x2427, 0x2429, 0x2b96, 0x2b96, 0x31e4, 0x31e5,
  0xa7cb, 0xa7cf, 0xa7d2, 0xa7d2, 0xa7d4, 0xa7d4, 0xa7da, 0xa7dc, 0xa7f1, 0xa7f1, 0xfbc3, 0xfbd2,
  0xfd90, 0xfd91, 0xfdc8, 0xfdce, 0x105c0, 0x105f3, 0x10940, 0x10959, 0x10d40, 0x10d65, 0x10d69, 0x10d85,
  0x10d8e, 0x10d8f, 0x10ec2, 0x10ec7, 0x10ed0, 0x10ed8, 0x10efa, 0x10efc, 0x11380, 0x11389, 0x1138b, 0x1138b,
  0x1138e, 0x1138e, 0x11390, 0x113b5, 0x113b7, 0x113c0, 0x113c2, 0x113c2, 0x113c5, 0x113c5, 0x113c7, 0x113ca,
  0x113cc, 0x113d5, 0x113d7, 0x113d8, 0x113e1, 0x113e2, 0x116d0, 0x116e3, 0x11b60, 0x11b67, 0x11bc0, 0x11be1,
  0x11bf0, 0x11bf9, 0x11db0, 0x11ddb, 0x11de0, 0x11de9, 0x11f5a, 0x11f5a, 0x13460, 0x143fa, 0x16100, 0x16139,
  0x16d40, 0x16d79, 0x16ea0, 0x16eb8, 0x16ebb, 0x16ed3, 0x16ff2, 0x16ff6, 0x187f8, 0x187ff, 0x18cff, 0x18cff,
  0x18d09, 0x18d1e, 0x18d80, 0x18df2, 0x1cc00, 0x1ccfc, 0x1cd00, 0x1ceb3, 0x1ceba, 0x1ced0, 0x1cee0, 0x1cef0,
  0x1e5d0, 0x1e5fa, 0x1e5ff, 0x1e5ff, 0x1e6c0, 0x1e6de, 0x1e6e0, 0x1e6f5, 0x1e6fe, 0x1e6ff, 0x1f6d8, 0x1f6d8,
  0x1f777, 0x1f77a, 0x1f8b2, 0x1f8bb, 0x1f8c0, 0x1f8c1, 0x1f8d0, 0x1f8d8, 0x1fa54, 0x1fa57, 0x1fa89, 0x1fa8a,
  0x1fa8e, 0x1fa8f, 0x1fabe, 0x1fabe, 0x1fac6, 0x1fac6, 0x1fac8, 0x1fac8, 0x1facd, 0x1facd, 0x1fadc, 0x1fadc,
  0x1fadf, 0x1fadf, 0x1fae9, 0x1faea, 0x1faef, 0x1faef, 0x1fbcb, 0x1fbef, 0x1fbfa, 0x1fbfa, 0x2b73a, 0x2b73f,
  0x2cea2, 0x2cead, 0x323b0, 0x33479,
];

function assignedAfter151(cp: number): boolean {
  let lo = 0;
  let hi = ASSIGNED_AFTER_15_1.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ASSIGNED_AFTER_15_1[2 * mid]) hi = mid - 1;
    else if (cp > ASSIGNED_AFTER_15_1[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

const CATEGORY_RE = /(\p{L})|(\p{N})|(\p{P})|(\p{S})|(\p{M})|(\p{Z})|(\p{Cn})|(\p{C})/u;
const CATEGORY_OF_GROUP = [0, LETTER, NUMBER, PUNCTUATION, SYMBOL, ACCENT_MARK, SEPARATOR, UNDEFINED, CONTROL];
const WHITESPACE_RE = /\p{White_Space}/u;

const MAX_CODEPOINT = 0x10ffff;
// Filled lazily: 0 = not computed yet, else flags | COMPUTED.
const COMPUTED = 0x8000;
const flagCache = new Uint16Array(MAX_CODEPOINT + 1);

function computeFlags(cp: number): number {
  if (assignedAfter151(cp)) return UNDEFINED;
  const s = String.fromCodePoint(cp);
  const m = CATEGORY_RE.exec(s);
  let f = UNDEFINED;
  if (m) for (let g = 1; g < m.length; g++) if (m[g] !== undefined) { f = CATEGORY_OF_GROUP[g]; break; }
  if (WHITESPACE_RE.test(s)) f |= WHITESPACE;
  return f;
}

/** llama.cpp's unicode_cpt_flags_from_cpt for a codepoint (UNDEFINED beyond U+10FFFF). */
export function cptFlags(cp: number): number {
  if (cp < 0 || cp > MAX_CODEPOINT) return UNDEFINED;
  let f = flagCache[cp];
  if (f === 0) flagCache[cp] = f = computeFlags(cp) | COMPUTED;
  return f & ~COMPUTED;
}

// unicode_tolower: the only codepoints whose lowercase is an ASCII letter are A-Z, U+0130 (i) and
// U+212A (k); the tokenizers only compare against s, t, r, e, v, m, l, d.
export function lowerForContraction(cp: number): number {
  return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
}

/** Appends the UTF-8 bytes of `cp` to `out`. */
export function pushUtf8(cp: number, out: number[]): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

const encoder = new TextEncoder();
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
/** Decodes UTF-8, replacing each invalid sequence with U+FFFD (as V8 does for llama.cpp's strings). */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// GPT-2's byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to U+0100 upward.
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const map: string[] = new Array(256);
  const direct = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(direct(b) ? b : 256 + n++);
  return map;
})();

export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]));

/** CJK ideographs as llama.cpp's unicode_cpt_is_han. */
export function isHan(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0x2ceb0 && cp <= 0x2ebef) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}
