// The demonstration model trained by test/tiny-model/train.py, as committed (Q8_0 and F16): its
// tokenizer is the one it was trained with and llama.cpp's; its held-out loss is the one the training
// run measured; Hearth (reference and WebGPU) and llama.cpp continue code prompts, a fill-in-the-middle
// one among them, with the same 64 greedy tokens; and what it writes is code.
//
// A weak model has near-ties: in the 8 continuations below llama.cpp's top two logits come within
// 3e-5 of each other, while activation rounding moves logits by up to ~1e-1 between two correct
// implementations (llama.cpp's CPU backend rounds Q8_0 products' activations to 8 bits, the
// reference does not; an 8-bit or f16 rounding boundary crossed on one side only). So up to where a
// continuation parts from llama.cpp's, the logits must agree within LOGIT_TOL, and it may part only
// where llama.cpp's top two are closer than 2 * LOGIT_TOL (no closer logits could swap them). Each
// continuation's agreement is printed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { readGGUF } from '../engine/gguf/gguf.js';
import { ChatTemplate, renderChat } from '../engine/prompt/chat-template.js';
import { ReferenceModel } from '../engine/model/reference.js';
import { WebGpuModel } from '../engine/model/webgpu-model.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { bundle } from './support/inference-fixtures.js';
import { argmax } from './support/parity-cases.js';

const DIR = 'test/tiny-model';
const FILES = [
  // Held-out loss of the file against the float32 weights' (the rounding of its weights costs this much at most).
  { label: 'Q8_0', path: `${DIR}/tiny-code-q8_0.gguf`, lossTol: 0.02 },
  { label: 'F16', path: `${DIR}/tiny-code-f16.gguf`, lossTol: 0.005 },
];
const GEN = 64;
const N_CTX = 256;
const LOGIT_TOL = 0.15;
const NEAR_TIE = 2 * LOGIT_TOL;

interface Heldout {
  windows: { tokens: number[]; targets: number; middle_from: number; loss: number }[];
  tokenizer: { text: string; ids: number[] }[];
}
const heldout = JSON.parse(readFileSync(`${DIR}/heldout.json`, 'utf8')) as Heldout;
const log = JSON.parse(readFileSync(`${DIR}/training-log.json`, 'utf8')) as { heldout: { loss: number } };

/**
 * Prompts as an editor would send them (special-token text parsed), and what this model's greedy
 * continuation (up to end of generation) holds: code a random-weight model does not write.
 */
const PROMPTS = [
  // What each continuation must show: the structure of code in the prompt's language.
  { label: 'python add', text: 'def add(a, b):\n    return', code: /\ndef \w+\(a, b\):\n {4}/ },
  { label: 'python class', text: 'class Point:\n    def __init__(self, x, y):\n', code: /\n {4}def __init__\(self, \w+/ },
  { label: 'javascript', text: 'function sum(values) {\n  let total = 0;\n', code: /\n +if \(\w+ === \w+\) \{\n +return \w+;/ },
  { label: 'fim', text: '<|fim_prefix|>import os\n\n\ndef read_lines(path):\n<|fim_suffix|>\n\n\nprint(read_lines("a.txt"))\n<|fim_middle|>    with open(', code: /^\w+, \w+=None\):\n {8}"""/ },
];

let llama: Llama;
const summary: string[] = [];

before(async () => {
  llama = await getLlama({ build: 'never', gpu: false, logLevel: 'error' as never });
});

after(async () => {
  await llama.dispose();
  console.log(['demonstration model:', ...summary].join('\n'));
});

interface Continuation { tokens: number[]; logits: Float32Array[] }

/** llama.cpp's GEN greedy tokens after each prompt (CPU) and its logits at each, with an f32 or f16 KV cache. */
async function llamaGreedy(path: string, prompts: number[][], f16Kv: boolean, nVocab: number): Promise<Continuation[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const kv = f16Kv ? {} : { experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } as const;
    const out: Continuation[] = [];
    for (const ids of prompts) {
      // One thread: on a busy 2-core machine ggml's spinning workers make each decode far slower.
      const ctx = await model.createContext({ contextSize: N_CTX, batchSize: N_CTX, sequences: 1, flashAttention: false, threads: 1, ...kv });
      const seq = ctx.getSequence();
      const next = { generateNext: { token: true, logits: true, options: { temperature: 0 } } } as const;
      const c: Continuation = { tokens: [], logits: [] };
      const take = (o: { next: { token?: Token | null; logits?: Map<Token, number> } } | undefined) => {
        const m = o?.next.logits;
        assert.ok(m && m.size === nVocab, `llama.cpp returned ${m?.size} logits, expected ${nVocab}`);
        const l = new Float32Array(nVocab);
        for (const [k, v] of m) l[k] = v;
        c.tokens.push(o!.next.token as number);
        c.logits.push(l);
      };
      const first = await seq.controlledEvaluate(ids.map((id) => [id as Token, next]));
      take(first[ids.length - 1]);
      while (c.tokens.length < GEN) take((await seq.controlledEvaluate([[c.tokens[c.tokens.length - 1] as Token, next]]))[0]);
      await ctx.dispose();
      out.push(c);
    }
    return out;
  } finally {
    await model.dispose();
  }
}

/** GEN greedy tokens and the logits they were picked from (the reference rounding activations as ggml-cpu does with `ggmlCpu`). */
async function greedy(m: ReferenceModel | WebGpuModel, ids: number[], ggmlCpu: boolean): Promise<Continuation> {
  const c: Continuation = { tokens: [], logits: [] };
  let input = ids, pos = 0;
  while (c.tokens.length < GEN) {
    const l = m instanceof ReferenceModel ? m.evaluate(0, input, pos, { ggmlCpuActivations: ggmlCpu }) : await m.forward(0, input, pos);
    c.logits.push(l.slice());
    c.tokens.push(argmax(l));
    pos += input.length;
    input = [c.tokens[c.tokens.length - 1]];
  }
  return c;
}

function margin(l: Float32Array): number {
  let a = -Infinity, b = -Infinity;
  for (let i = 0; i < l.length; i++) {
    if (l[i] > a) { b = a; a = l[i]; } else if (l[i] > b) b = l[i];
  }
  return a - b;
}

/**
 * Where `ours` first differs from `theirs` (GEN when never), after checking that up to there the
 * logits agree and that a difference falls on one of their near-ties. Returns a line for the summary.
 */
function agree(what: string, ours: Continuation, theirs: Continuation): string {
  const at = ours.tokens.findIndex((id, i) => id !== theirs.tokens[i]);
  const n = at < 0 ? GEN : at;
  let dlogit = 0;
  for (let i = 0; i <= Math.min(n, GEN - 1); i++) {
    for (let j = 0; j < ours.logits[i].length; j++) dlogit = Math.max(dlogit, Math.abs(ours.logits[i][j] - theirs.logits[i][j]));
  }
  assert.ok(dlogit <= LOGIT_TOL, `${what}: max |dlogit| ${dlogit} > ${LOGIT_TOL} (over the first ${n + 1} steps)`);
  if (at >= 0) {
    const m = margin(theirs.logits[at]);
    assert.ok(m < NEAR_TIE, `${what}: greedy tokens differ from llama.cpp's at step ${at}, where llama.cpp's top two logits are ${m} apart`);
    return `${n}/${GEN} (then a near-tie: llama.cpp's margin ${m.toExponential(1)}), max |dlogit| ${dlogit.toExponential(1)}`;
  }
  return `${GEN}/${GEN}, max |dlogit| ${dlogit.toExponential(1)}`;
}

/** The text up to the first end-of-generation token. */
function completion(tok: Tokenizer, ids: number[]): string {
  const end = ids.findIndex((id) => tok.isEog(id));
  return tok.decode(end < 0 ? ids : ids.slice(0, end));
}

const files = FILES.map((f) => {
  const g = readGGUF(f.path);
  return { ...f, g, tok: Tokenizer.fromGGUF(g) };
});

test('the tokenizer is the one the model was trained with, and llama.cpp tokenizes alike', async () => {
  for (const { label, path, tok } of files) {
    for (const s of heldout.tokenizer) assert.deepEqual(tok.encode(s.text), s.ids, `${label}: held-out text tokenized unlike the training tokenizer`);
    const model = await llama.loadModel({ modelPath: path });
    try {
      for (const s of [...heldout.tokenizer.map((h) => h.text), ...PROMPTS.map((p) => p.text)]) {
        assert.deepEqual(Array.from(model.tokenize(s, true)), tok.encode(s, { parseSpecial: true }), `${label}: llama.cpp tokenizes ${JSON.stringify(s.slice(0, 40))} differently`);
      }
    } finally {
      await model.dispose();
    }
    assert.equal(tok.pre, 'gpt-2');
    assert.deepEqual([tok.fim.pre, tok.fim.suf, tok.fim.mid, tok.fim.sep].map((id) => tok.tokenText(id!)), ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_sep|>']);
    assert.ok(tok.isEog(tok.tokenId('<|endoftext|>')!) && tok.isEog(tok.tokenId('<|im_end|>')!));
  }
});

/** Mean cross-entropy (nats) of a window's targets under the reference forward pass. */
function windowLoss(ref: ReferenceModel, w: Heldout['windows'][number]): number {
  const ids = w.tokens.slice(0, N_CTX);
  const all = ref.evaluate(0, ids, 0, { allLogits: true });
  const n = ref.config.nVocab;
  let sum = 0;
  for (let i = 0; i < w.targets; i++) {
    const l = all.subarray(i * n, (i + 1) * n);
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, l[j]);
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(l[j] - m);
    sum += m + Math.log(z) - l[w.tokens[i + 1]];
  }
  return sum / w.targets;
}

test('held-out loss is what training measured, far below a random-weight model\'s ln(4096) = 8.3', () => {
  for (const { label, g, lossTol } of files) {
    const ref = ReferenceModel.load(g, { nCtx: N_CTX });
    for (const w of heldout.windows) {
      const got = windowLoss(ref, w);
      const kind = w.middle_from >= 0 ? 'fill-in-the-middle' : 'plain';
      summary.push(`  ${label} held-out ${kind} window: ${got.toFixed(4)} nats/token (float32 weights in training: ${w.loss.toFixed(4)})`);
      assert.ok(Math.abs(got - w.loss) <= lossTol, `${label}: ${kind} window loss ${got} vs ${w.loss} in training`);
      assert.ok(got < 4.2, `${label}: ${kind} window loss ${got}`);
    }
  }
  assert.ok(log.heldout.loss < 4.2, `training log: held-out loss ${log.heldout.loss}`);
});

test('greedy continuations: Hearth (reference and WebGPU) and llama.cpp agree for 64 tokens; they are code', async () => {
  for (const { label, path, g, tok } of files) {
    const nVocab = tok.nVocab;
    const prompts = PROMPTS.map((p) => tok.encode(p.text, { parseSpecial: true }));
    const ref = ReferenceModel.load(g, { nCtx: N_CTX });
    const ours: Continuation[] = [];
    for (const ids of prompts) ours.push(await greedy(ref, ids, true));
    const gpu = await WebGpuModel.load(g, { nCtx: N_CTX });
    const r = gpu.report();
    const device: Continuation[] = [];
    try {
      for (const ids of prompts) device.push(await greedy(gpu, ids, false));
    } finally {
      gpu.dispose();
    }
    const theirs = await llamaGreedy(path, prompts, false, nVocab);
    // The device's KV cache as llama.cpp's: f16 on GPUs with shader-f16.
    const theirsDevice = r.f16Kv ? await llamaGreedy(path, prompts, true, nVocab) : theirs;
    const gpuWhat = `WebGPU (${r.device}, ${r.f16Kv ? 'f16' : 'f32'} KV${r.int8 ? ', int8' : ''})`;
    PROMPTS.forEach((p, i) => {
      const a = agree(`${label} ${p.label}: the reference`, ours[i], theirs[i]);
      const b = agree(`${label} ${p.label}: ${gpuWhat}`, device[i], theirsDevice[i]);
      const text = completion(tok, theirs[i].tokens);
      summary.push(`  ${label} ${p.label}: reference ${a} | WebGPU ${b}\n    llama.cpp: ${JSON.stringify(text)}`);
      if (!p.code.test(text)) console.log("NOMATCH", label, p.label, JSON.stringify(text));
      assert.match(text, p.code, `${label} ${p.label}: llama.cpp's continuation`);
    });
  }
});

test('the chat template lays a conversation out as ChatML', () => {
  for (const { label, g, tok } of files) {
    const template = new ChatTemplate(g.metadata.get('tokenizer.chat_template') as string);
    const text = renderChat(template, [{ role: 'user', content: 'Write a function.' }], { bosToken: '', eosToken: '<|endoftext|>', addGenerationPrompt: true });
    assert.equal(text, '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a function.<|im_end|>\n<|im_start|>assistant\n', label);
    const ids = tok.encode(text, { parseSpecial: true });
    assert.equal(ids.filter((id) => id === tok.tokenId('<|im_start|>')).length, 3, `${label}: <|im_start|> is one token`);
  }
});

test('hearth generate continues `def add(a, b):` with the greedy tokens of the reference', async () => {
  const cli = await bundle('engine/cli/cli.ts', 'hearth');
  const { path, g, tok } = files[0];
  const prompt = PROMPTS[0].text;
  const r = spawnSync(process.execPath, [cli, 'generate', '--model', path, '--prompt', prompt, '-n', '32', '--json'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const got = JSON.parse(lines[lines.length - 1]) as { tokens: number[]; text: string };
  const ref = await greedy(ReferenceModel.load(g, { nCtx: N_CTX }), tok.encode(prompt, { parseSpecial: true }), true);
  const want = ref.tokens.slice(0, 32);
  const end = want.findIndex((id) => tok.isEog(id));
  // Stopped at end of generation, as llama.cpp; otherwise all 32 (a near-tie may part them, as above).
  const n = end < 0 ? 32 : end;
  const at = got.tokens.findIndex((id, i) => id !== want[i]);
  if (at >= 0) assert.ok(margin(ref.logits[at]) < NEAR_TIE, `the CLI's greedy token ${at} differs from the reference's`);
  else assert.equal(got.tokens.length, n);
  assert.match(got.text, PROMPTS[0].code);
});
