// A seeded, generated corpus for comparing our tokenizers with llama.cpp: code in several languages,
// every kind of whitespace run, CRLF, digit runs, contractions, scripts with and without combining
// marks, emoji sequences, control and unassigned codepoints, and special-token look-alikes; and a
// sweep over the codepoint space.

import { rng } from './rng.js';

const CODE = [
  `def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint(fib(10))  # 55\n`,
  `import { readFileSync } from 'node:fs';\n\nexport async function load(path: string): Promise<Record<string, unknown>> {\n\tconst text = readFileSync(path, 'utf8');\n\treturn JSON.parse(text) as Record<string, unknown>;\n}\n`,
  `fn main() {\n    let v: Vec<u32> = (1..=10).map(|x| x * x).collect();\n    println!("{:?} sum={}", v, v.iter().sum::<u32>());\n    if let Some(&m) = v.iter().max() { eprintln!("max {m}"); }\n}\n`,
  `package main\n\nimport "fmt"\n\nfunc main() {\n\tch := make(chan int, 3)\n\tgo func() { for i := 0; i < 3; i++ { ch <- i }; close(ch) }()\n\tfor x := range ch {\n\t\tfmt.Printf("%d\\n", x)\n\t}\n}\n`,
  `#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 0; i < argc; ++i) printf("%s\\n", argv[i]);\n    return 0; /* done */\n}\n`,
  `public class Hello {\n    public static void main(String[] args) {\n        System.out.println("Hello, " + (args.length > 0 ? args[0] : "world") + "!");\n    }\n}\n`,
  `SELECT u.id, COUNT(*) AS n\nFROM users u\nJOIN orders o ON o.user_id = u.id\nWHERE o.created_at >= '2024-01-01'\nGROUP BY u.id\nHAVING COUNT(*) > 3;\n`,
  `<!DOCTYPE html>\n<html lang="en">\n  <head><meta charset="utf-8"><title>Tëst &amp; más</title></head>\n  <body><p class="x">Hi&nbsp;there</p></body>\n</html>\n`,
  `#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l "$f" | awk '{print $1}' >> counts.log 2>&1\ndone\necho "\${#BASH_ARGV[@]} done"\n`,
  `{\n  "name": "hearth",\n  "version": "0.1.0",\n  "values": [1, 2.5e-3, -17, null, true],\n  "nested": {"k": "v\\u00e9\\n"}\n}\n`,
  `server:\n  port: 8080\n  hosts:\n    - alpha.example.com\n    - beta.example.com\n  tls: {enabled: yes, cert: "/etc/ssl/cert.pem"}\n`,
  `# Title\n\nSome *emphasis*, **bold**, and \`code\`.\n\n- item one\n- item two\n\n> quote's here, isn't it?\n\n\`\`\`js\nconsole.log(1)\n\`\`\`\n`,
  `template <typename T>\nstd::vector<T> twice(const std::vector<T>& xs) {\n    std::vector<T> out; out.reserve(xs.size() * 2);\n    for (auto&& x : xs) { out.push_back(x); out.push_back(x); }\n    return out;\n}\n`,
  `class Stack<T> {\n  private items: T[] = [];\n  push(x: T): void { this.items.push(x); }\n  pop(): T | undefined { return this.items.pop(); }\n  get size() { return this.items.length; }\n}\n`,
  `local function greet(name)\n  return string.format("Hello, %s!", name or "stranger")\nend\nprint(greet(arg[1]))\n`,
  `(defun square (x)\n  "Square X."\n  (* x x))\n(mapcar #'square '(1 2 3))\n`,
];

const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'Hello', 'WORLD', 'tokenizer', 'llama',
  'café', 'naïve', 'Führer', 'straße', 'déjà', 'vu', 'I', 'a', 'x', 'OpenAI', 'GGUF', 'http', 'https://example.com/a?b=c&d=e',
  'user@example.org', 'snake_case_name', 'camelCaseName', 'PascalCase', 'SCREAMING_CASE', 'kebab-case-name'];
const CONTRACTIONS = ["it's", "I'M", "we'Ve", "they're", "can't", "'ll", "'d", "y'all", "o'clock", "'S", "'T", "rock'n'roll", "''", "'", "'re'"];
const SCRIPTS = [
  '你好，世界！', '我们是大型语言模型。', '日本語のテキスト、カタカナとひらがな。', '한국어 문장입니다.', 'Привет, мир! Ёжик.',
  'Ελληνικά γράμματα', 'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'ქართული', 'Հայերեն', 'ᚠᛇᚻ᛫ᛒᛦᚦ',
  'e\u0301 a\u0308\u0323 o\u0302\u0300', 'क्षत्रिय', '\u1100\u1161\u11a8', 'ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝',
  '𐐀𐐁𐐂 Deseret', '∀x∈ℝ: x²≥0 ∑∫√∞ ≠ ≤ ≥', '€100 £5 ¥20 ₹3 ₿1', '©®™ § ¶ † ‡ • …', 'ⅠⅡⅢ ①②③ ½ ¾ ²³',
  'Ꞌ ꞌ ꟊ', '\u1c89\u1c8a \ua7cb\ua7cc \u{1fae9} \u{16d40}\u{16d41}', // assigned after Unicode 15.1
];
const EMOJI = ['🦙', '😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸🇯🇵', '❤️', '✨', '🚀🔥💯', '#️⃣', '🧑🏿‍💻'];
const WHITESPACE = [' ', '  ', '   ', '    ', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', ' \n', '\n ', ' \t ',
  '\u00a0', '\u2003', '\u3000', '\u0085', '\u2028', '\u200b', '\ufeff', '\u000b', '\u000c', '\r', ' \r\n  ', '        '];
const SPECIALS = ['<|endoftext|>', '<s>', '</s>', '<unk>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|im_start|>',
  '<|im_end|>', '<think>', '</think>', '<tool_call>', '<｜fim▁hole｜>', '<｜fim▁begin｜>', '<｜end▁of▁sentence｜>', '<pad>',
  'õ', 'ÿ', '<|EOT|>', '[PAD32022]', '<0x0A>', '<|file_sep|>', '<|repo_name|>', '<mask>', '  <mask>  ', '</s>  \n x',
  '<|user|>\nhi<|end|>\n', '<|end|>  '];
const SYMBOLS = ['!', '?', '.', ',', ';', ':', '(', ')', '[', ']', '{', '}', '<', '>', '=', '==', '===', '=>', '->', '::',
  '&&', '||', '+=', '...', '/*', '*/', '//', '#', '$', '%', '^', '&', '*', '_', '~', '`', '|', '\\', '"', '@', '\u00b7'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function digits(r: () => number): string {
  const n = 1 + Math.floor(r() * 14);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(48 + Math.floor(r() * 10));
  return r() < 0.2 ? s + '.' + digits(r) : r() < 0.1 ? s.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : s;
}

/** A codepoint from ranges that stress category tables: Latin-1, controls, marks, CJK, astral, unassigned. */
function randomCodepoint(r: () => number): string {
  const ranges: [number, number][] = [[0x00, 0x7f], [0x80, 0xff], [0x100, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff],
    [0x590, 0x6ff], [0x900, 0x97f], [0x1e00, 0x1fff], [0x2000, 0x206f], [0x2070, 0x2bff], [0x3000, 0x30ff], [0x4e00, 0x9fff],
    [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xfb00, 0xfffd], [0x10000, 0x1ffff], [0x20000, 0x2ffff], [0x30000, 0x3ffff], [0xe0000, 0xe01ef]];
  const [a, b] = pick(r, ranges);
  return String.fromCodePoint(a + Math.floor(r() * (b - a + 1)));
}

function mixed(r: () => number, parts: number): string {
  let s = '';
  for (let i = 0; i < parts; i++) {
    const k = r();
    if (k < 0.25) s += pick(r, WORDS);
    else if (k < 0.33) s += pick(r, CONTRACTIONS);
    else if (k < 0.43) s += digits(r);
    else if (k < 0.53) s += pick(r, SCRIPTS);
    else if (k < 0.58) s += pick(r, EMOJI);
    else if (k < 0.73) s += pick(r, WHITESPACE);
    else if (k < 0.85) s += pick(r, SYMBOLS);
    else if (k < 0.9) s += pick(r, SPECIALS);
    else s += randomCodepoint(r);
    if (r() < 0.5) s += ' ';
  }
  return s;
}

/** The corpus: deterministic for a seed; `size` random strings on top of the fixed ones. */
export function tokenizerCorpus(seed = 1234, size = 500): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (const c of CODE) {
    out.push(c, c.replaceAll('\n', '\r\n'), c.replaceAll('    ', '\t'), ' ' + c, c.trimEnd());
  }
  for (const w of [...WHITESPACE, ...SPECIALS, ...SCRIPTS, ...EMOJI, ...CONTRACTIONS]) out.push(w, ` ${w} `, `x${w}y`);
  for (let n = 1; n <= 40; n += 3) out.push(' '.repeat(n), '\t'.repeat(n), '\n'.repeat(n), ' '.repeat(n) + 'word', 'a' + ' '.repeat(n) + '\n' + ' '.repeat(n) + 'b');
  for (let n = 1; n <= 24; n++) out.push('1234567890'.repeat(3).slice(0, n), 'x' + '9'.repeat(n) + 'y');
  // shapes that only some pre-tokenizers single out
  out.push('a <sentinel:42> b IMGIMGABZ IMGIMGAAAAAZ IMGIMGJZ', '。，、।۔،…!? (a|b)', 'tail spaces   ', 'tail\t\n  ',
    '1234567 12,345,678.9012', 'A1b2C3 aB Ab AB ab', 'ÀÖØöøƺ µ ǅ ʓ ﬀ Ａ ａ', '(x) [y] {z} <w>', "' s 't re 'RE 'Ll");
  out.push('', 'a', 'A', '\u0000', '\u0000abc\u0001', '\ud800 lone \udfff surrogates', 'trailing space ', ' leading', 'a'.repeat(300));
  for (let i = 0; i < size; i++) {
    const k = r();
    if (k < 0.6) out.push(mixed(r, 1 + Math.floor(r() * 30)));
    else if (k < 0.8) {
      let s = '';
      const n = 1 + Math.floor(r() * 40);
      for (let j = 0; j < n; j++) s += randomCodepoint(r);
      out.push(s);
    } else {
      // code with random identifiers, literals and indentation
      const c = pick(r, CODE);
      out.push(c.replace(/[a-z]+/g, (w) => (r() < 0.1 ? pick(r, [...WORDS, ...SCRIPTS]) : w)).replace(/^ +/gm, (sp) => (r() < 0.3 ? '\t' : sp + (r() < 0.2 ? ' ' : ''))));
    }
  }
  return out;
}

/**
 * Every codepoint between a letter and a digit and before a space, so a category that differs from
 * llama.cpp's tables splits words differently. Big uniform blocks (ideographs, Hangul syllables,
 * private use) and unassigned space are sampled.
 */
export function codepointSweep(): string[] {
  const uniform = (c: number) => (c >= 0x3400 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xe000 && c <= 0xf8ff)
    || (c >= 0x17000 && c <= 0x18cff) || (c >= 0x20000 && c <= 0x3ffff) || c >= 0xf0000;
  const chunks: string[] = [];
  let chunk = '';
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const s = String.fromCodePoint(c);
    const keep = uniform(c) ? c % 13 === 0 : /\P{Cn}/u.test(s) || c % 97 === 0;
    if (!keep) continue;
    chunk += `a${s}1${s} `;
    if (chunk.length > 8000) { chunks.push(chunk); chunk = ''; }
  }
  chunks.push(chunk);
  return chunks;
}
