// The fill-in-the-middle layout with the real Qwen2 tokenizer: exact token layout, and the cache
// properties it is designed for (measured as the common token prefix of consecutive prompts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readGGUF } from '../gguf/gguf.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { FimLayout } from './fim.js';
import { Slot, commonPrefix } from '../process/slot.js';
import { vocabPath } from '../../test/support/fixtures.js';

const tok = Tokenizer.fromGGUF(readGGUF(vocabPath('qwen2')));
const enc = (s: string) => tok.encode(s, { addBos: false, parseSpecial: false });
const ids = { pre: tok.fim.pre!, suf: tok.fim.suf!, mid: tok.fim.mid!, fileSep: tok.fim.sep!, repo: tok.fim.rep! };
const layout = () => new FimLayout(enc, ids);

// A deterministic "source file": numbered functions of varied length.
function source(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(i % 5 === 0 ? `def f${i}(x, y=${i}):` : `    total_${i} = compute(x * ${i}, y) + offset_${i % 7}  # step ${i}`);
  return out.join('\n') + '\n';
}

test('layout: file header, PSM with the cursor line after <|fim_middle|>, each part tokenized alone', () => {
  const p = layout().build({ prefix: 'import os\ndef main():\n    pri', suffix: 'nt(os.getcwd())\n\nmain()\n', fileName: 'app.py' }, 1000);
  const want = [ids.fileSep, ...enc('app.py\n'), ids.pre, ...enc('import os\ndef main():\n'), ids.suf, ...enc('nt(os.getcwd())\n\nmain()\n'), ids.mid, ...enc('    pri')];
  assert.deepEqual(p.tokens, want);
  assert.equal(p.trimmedChars, 0);
  assert.equal(tok.decode(p.tokens, { special: true }),
    '<|file_sep|>app.py\n<|fim_prefix|>import os\ndef main():\n<|fim_suffix|>nt(os.getcwd())\n\nmain()\n<|fim_middle|>    pri');
  // Without a file name or a file separator token there is no header.
  assert.deepEqual(new FimLayout(enc, { pre: ids.pre, suf: ids.suf, mid: ids.mid }).build({ prefix: 'a', suffix: 'b', fileName: 'x' }, 100).tokens,
    [ids.pre, ids.suf, ...enc('b'), ids.mid, ...enc('a')]);
});

test('typing on a line keeps everything up to <|fim_middle|>; a new line keeps the prefix window', () => {
  const doc = source(40);
  const cut = doc.indexOf('def f20');
  const before = doc.slice(0, cut);
  const after = doc.slice(cut);
  const typed = '    result = helper(alpha, beta)\n    return result\n';
  const f = layout();
  let prev = f.build({ prefix: before, suffix: after, fileName: 'm.py' }, 4000).tokens;
  let lines = 0;
  for (let i = 1; i <= typed.length; i++) {
    const cur = f.build({ prefix: before + typed.slice(0, i), suffix: after, fileName: 'm.py' }, 4000).tokens;
    const kept = commonPrefix(prev, cur);
    if (typed[i - 1] === '\n') {
      // The finished line joins the prefix window: everything before <|fim_suffix|> stays.
      assert.ok(kept >= prev.indexOf(ids.suf), `keystroke ${i}: kept ${kept} < ${prev.indexOf(ids.suf)}`);
      lines++;
    } else {
      assert.ok(kept >= prev.indexOf(ids.mid) + 1, `keystroke ${i}: kept ${kept}, <|fim_middle|> at ${prev.indexOf(ids.mid)}`);
      assert.ok(cur.length - kept <= 3, `keystroke ${i}: re-runs ${cur.length - kept} tokens`);
    }
    prev = cur;
  }
  assert.equal(lines, 2);
});

test('over budget: whole lines nearest the cursor, anchored so the window start rarely moves', () => {
  const doc = source(600);
  const budget = 512;
  const f = layout();
  const starts = new Set<number>();
  let prev: number[] = [];
  let moves = 0;
  let reuseSum = 0;
  // Type 60 new lines at the end of the document.
  const extra = source(60).replace(/f(\d)/g, 'g$1');
  let prefix = doc;
  for (const line of extra.split(/(?<=\n)/)) {
    prefix += line;
    const p = f.build({ prefix, suffix: '', fileName: 'big.py' }, budget);
    assert.ok(p.tokens.length <= budget, `${p.tokens.length} tokens > budget ${budget}`);
    assert.ok(p.prefixStart === 0 || prefix[p.prefixStart - 1] === '\n', 'the window starts at a line start');
    assert.equal(p.trimmedChars, p.prefixStart);
    // The window runs up to the cursor: the prompt decodes to exactly that text.
    assert.ok(tok.decode(p.tokens, { special: true }).endsWith(prefix.slice(p.prefixStart) + '<|fim_suffix|><|fim_middle|>'));
    if (!starts.has(p.prefixStart) && starts.size) moves++;
    else if (prev.length) reuseSum += commonPrefix(prev, p.tokens) / prev.length;
    starts.add(p.prefixStart);
    prev = p.tokens;
  }
  // ~60 lines of ~15 tokens against a quarter of a ~500-token window: a handful of moves, not 60.
  assert.ok(moves >= 1 && moves <= 10, `the window moved ${moves} times`);
  assert.ok(reuseSum / (60 - moves - 1) > 0.9, 'prompts between moves share almost all tokens');
});

test('suffix window: whole lines, at most a quarter of the budget; a huge cursor line is cut from its far end', () => {
  const doc = source(300);
  const f = layout();
  const p = f.build({ prefix: 'x = 1\n', suffix: doc, fileName: 'a.py' }, 400);
  const sufTokens = p.tokens.slice(p.tokens.indexOf(ids.suf) + 1, p.tokens.indexOf(ids.mid));
  assert.ok(sufTokens.length <= 100 && sufTokens.length > 60, `suffix window of ${sufTokens.length} tokens`);
  assert.equal(tok.decode(sufTokens), doc.slice(0, p.suffixEnd));
  assert.equal(doc[p.suffixEnd - 1], '\n');
  assert.equal(p.trimmedChars, doc.length - p.suffixEnd);

  const long = 'v = [' + Array.from({ length: 400 }, (_, i) => i).join(', ');
  const q = f.build({ prefix: 'a = 1\n' + long, suffix: ']\n', fileName: 'a.py' }, 400);
  const line = tok.decode(q.tokens.slice(q.tokens.indexOf(ids.mid) + 1));
  assert.ok(long.endsWith(line) && line.length < long.length && line.length > 20, `cursor line kept: ${line.length} chars`);
  assert.ok(q.tokens.length <= 400);
});

test('context chunks: repo-level layout first, newest kept within a third of the budget, oldest dropped', () => {
  const context = [
    { name: 'src/util.py', text: 'def helper(x):\n    return x * 2\n' },
    { name: 'clipboard', text: 'value = helper(21)' },
  ];
  const f = layout();
  const p = f.build({ prefix: 'import util\nprint(', suffix: ')\n', fileName: 'main.py', context, repoName: 'demo' }, 1000);
  assert.equal(tok.decode(p.tokens, { special: true }),
    '<|repo_name|>demo\n<|file_sep|>src/util.py\ndef helper(x):\n    return x * 2\n<|file_sep|>clipboard\nvalue = helper(21)\n'
    + '<|file_sep|>main.py\n<|fim_prefix|>import util\n<|fim_suffix|>)\n<|fim_middle|>print(');
  assert.equal(p.contextChunks, 2);
  assert.equal(p.tokens[0], ids.repo);
  // Typing keeps every context token: they come first and do not depend on the cursor.
  const q = f.build({ prefix: 'import util\nprint(h', suffix: ')\n', fileName: 'main.py', context, repoName: 'demo' }, 1000);
  assert.ok(commonPrefix(p.tokens, q.tokens) >= p.tokens.indexOf(ids.mid) + 1);

  // Over its share the oldest chunks go; what remains is the newest, in order, and within budget / 3.
  const many = Array.from({ length: 12 }, (_, i) => ({ name: `f${i}.py`, text: source(12).replace(/total/g, `t${i}`) }));
  const r = f.build({ prefix: 'x = ', suffix: '', fileName: 'main.py', context: many }, 1200);
  assert.ok(r.contextChunks > 0 && r.contextChunks < many.length, `${r.contextChunks} chunks`);
  const text = tok.decode(r.tokens, { special: true });
  const kept = many.slice(many.length - r.contextChunks);
  assert.ok(text.startsWith(kept.map((c) => `<|file_sep|>${c.name}\n${c.text}`).join('')), text.slice(0, 200));
  assert.ok(r.tokens.length <= 1200);
  const contextTokens = r.tokens.lastIndexOf(ids.fileSep);
  assert.ok(contextTokens <= 400, `${contextTokens} context tokens`);
  // No file separator token: chunks cannot be told apart from the document, so none go in.
  const plain = new FimLayout(enc, { pre: ids.pre, suf: ids.suf, mid: ids.mid }).build({ prefix: 'a', suffix: 'b', context }, 100);
  assert.equal(plain.contextChunks, 0);
  assert.deepEqual(plain.tokens, [ids.pre, ids.suf, ...enc('b'), ids.mid, ...enc('a')]);
});

test('slot: keeps the common prefix, re-runs the last token of a cached prompt, no reuse on request', () => {
  const s = new Slot('complete', 0);
  assert.deepEqual(s.plan([1, 2, 3]), { reuse: 0, tokens: [1, 2, 3] });
  s.ran(0, [1, 2, 3]);
  s.ran(3, [9]);
  assert.deepEqual(s.tokens, [1, 2, 3, 9]);
  assert.deepEqual(s.plan([1, 2, 4, 5]), { reuse: 2, tokens: [4, 5] });
  assert.deepEqual(s.plan([1, 2, 3]), { reuse: 2, tokens: [3] });
  assert.deepEqual(s.plan([1, 2, 3, 9, 7]), { reuse: 4, tokens: [7] });
  assert.deepEqual(s.plan([1, 2, 3, 9, 7], false), { reuse: 0, tokens: [1, 2, 3, 9, 7] });
  s.ran(2, [4, 5]);
  assert.deepEqual(s.tokens, [1, 2, 4, 5]);
  assert.throws(() => s.ran(6, [1]), /gap/);
  assert.throws(() => s.plan([]), /empty prompt/);
});
