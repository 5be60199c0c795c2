// The `hearth` CLI contract that external checks rely on: output formats, exit codes, one-line errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../engine/gguf/ggml.js';
import { GGUFValueType, readGGUF, readTensorBytes } from '../engine/gguf/gguf.js';
import { metadataEntries, writeGGUF, type GGUFMetaEntry } from '../engine/gguf/gguf-writer.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import type { DecodeProfile } from '../engine/cli/bench.js';
import { fixtureModel } from './support/fixtures.js';
import { bundle, greedy, tinyModel } from './support/inference-fixtures.js';

let cli = '';
const tmp = mkdtempSync(join(tmpdir(), 'hearth-cli-'));

before(async () => {
  cli = await bundle('engine/cli/cli.ts', 'hearth');
});

function hearth(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, stderr: r.stderr, err: r.stderr.split('\n').filter((l) => l) };
}

function lastJson(out: string): Record<string, unknown> {
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

test('tokenize: JSON strings in, token id arrays out, no BOS, special text not parsed', () => {
  for (const model of [tinyModel(), fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.F32 })]) {
    const tok = Tokenizer.fromGGUF(readGGUF(model));
    const inputs = ['hello world', '<|fim_prefix|>def f():\r\n\treturn 1', '', '  многоязычный 😀 x'];
    const r = hearth(['tokenize', '--model', model], JSON.stringify(inputs));
    assert.equal(r.code, 0, r.err.join('\n'));
    const got = JSON.parse(r.out) as number[][];
    assert.deepEqual(got, inputs.map((s) => tok.encode(s, { addBos: false, parseSpecial: false })));
    assert.ok(got.every((ids) => ids[0] !== tok.bos), 'no BOS');
    assert.ok(!got[1].includes(tok.fim.pre ?? -1), 'special-token text stays text');
  }
  const bad = hearth(['tokenize', '--model', tinyModel()], '{"not":"an array"}');
  assert.equal(bad.code, 2);
  assert.equal(bad.err.length, 1);
});

test('generate --json: the greedy continuation, on both backends, with timings, with and without speculation', async () => {
  const model = tinyModel();
  const prompt = [9707, 1879, 11, 358];
  const expected = await greedy(model, prompt, 12);
  assert.equal(expected.tokens.length, 12);
  for (const backend of ['reference', 'webgpu']) {
    for (const speculate of [[], ['--speculate', '0'], ['--speculate', '15']]) {
      const r = hearth(['generate', '--model', model, '--tokens', prompt.join(','), '-n', '12', '--backend', backend, '--json', ...speculate]);
      assert.equal(r.code, 0, r.err.join('\n'));
      const j = lastJson(r.out);
      assert.deepEqual(j.prompt, prompt);
      assert.deepEqual(j.tokens, expected.tokens, `${backend} ${speculate}`);
      assert.equal(j.text, expected.text);
      for (const k of ['load_ms', 'prefill_tok_s', 'decode_tok_s']) assert.ok(typeof j[k] === 'number' && (j[k] as number) > 0, `${backend} ${k}`);
      // The decode steps after the first token: one per token, less the draft tokens kept.
      assert.equal(j.steps, 11 - (j.draft_accepted as number), `${backend} ${speculate}`);
      assert.ok((j.draft_accepted as number) <= (j.draft_tokens as number));
      if (speculate[1] === '0') assert.equal(j.draft_tokens, 0);
    }
  }
});

test('generate --prompt adds BOS as the metadata says', () => {
  const llama = fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.F32 });
  const tok = Tokenizer.fromGGUF(readGGUF(llama));
  assert.equal(tok.addBos, true);
  const r = hearth(['generate', '--model', llama, '--prompt', 'int main', '-n', '2', '--backend', 'reference', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(lastJson(r.out).prompt, [tok.bos!, ...tok.encode('int main')]);
  const q = hearth(['generate', '--model', tinyModel(), '--prompt', 'x = 1', '-n', '1', '--backend', 'reference', '--json']);
  assert.deepEqual(lastJson(q.out).prompt, Tokenizer.fromGGUF(readGGUF(tinyModel())).encode('x = 1'), 'qwen2 adds no BOS');
});

test('bench --json reports the measurements', () => {
  const r = hearth(['bench', '--model', tinyModel(), '--prompt-tokens', '16', '--gen-tokens', '4', '--backend', 'reference', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const j = lastJson(r.out);
  for (const k of ['prefill_tok_s', 'decode_tok_s', 'load_ms', 'peak_rss_bytes', 'warm_ttft_ms']) {
    assert.ok(typeof j[k] === 'number' && (j[k] as number) > 0, k);
  }
  assert.ok(typeof j.vram_bytes === 'number');
  assert.deepEqual([j.steps, j.draft_tokens, j.draft_accepted], [4, 0, 0], 'no speculation unless asked');
  const s = lastJson(hearth(['bench', '--model', tinyModel(), '--prompt-tokens', '16', '--gen-tokens', '4', '--backend', 'reference', '--json', '--speculate', '3']).out);
  assert.equal((s.steps as number) + (s.draft_accepted as number), 4);
});

test('bench runs on a small vocabulary (the demonstration model\'s 4,096 tokens)', () => {
  const r = hearth(['bench', '--model', 'test/tiny-model/tiny-code-q8_0.gguf', '--prompt-tokens', '16', '--gen-tokens', '4', '--backend', 'reference', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.ok((lastJson(r.out).decode_tok_s as number) > 0);
});

test('bench --profile adds the GPU time of each kernel of a decode step', () => {
  const r = hearth(['bench', '--model', tinyModel(), '--prompt-tokens', '16', '--gen-tokens', '4', '--profile', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const p = lastJson(r.out).decode_profile as DecodeProfile;
  assert.ok(p.gpu_ms_per_token > 0 && p.wall_ms_per_token > 0);
  assert.ok(p.host_ms_per_step > 0 && p.host_ms_per_step < p.wall_ms_per_token, JSON.stringify(p));
  assert.ok(Number.isInteger(p.dispatches_per_step) && p.dispatches_per_step >= 2 * 6, 'at least six dispatches per layer');
  assert.ok(Math.abs(p.kernels.reduce((a, k) => a + k.ms_per_token, 0) - p.gpu_ms_per_token) < 1e-9);
  const calls = Object.fromEntries(p.kernels.map((k) => [k.kernel, k.calls_per_token]));
  assert.equal(calls['matmul qkv'], 2, 'one pass per layer of the 2-layer model');
  assert.equal(calls.sample, 1);
  const human = hearth(['bench', '--model', tinyModel(), '--prompt-tokens', '8', '--gen-tokens', '2', '--profile']);
  assert.match(human.out, /decode step: [\d.]+ ms to encode and submit \d+ dispatches\ndecode step, profiled: [\d.]+ ms wall, [\d.]+ ms on the GPU\n(  [a-z+ -]+ +[\d.]+ ms .*\n)+/);
  const ref = hearth(['bench', '--model', tinyModel(), '--prompt-tokens', '8', '--gen-tokens', '2', '--profile', '--backend', 'reference']);
  assert.equal(ref.code, 2);
  assert.match(ref.err.join('\n'), /--profile times GPU kernels: it needs --backend webgpu/);
});

test('info: a llama.cpp-style report', () => {
  const r = hearth(['info', '--model', tinyModel()]);
  assert.equal(r.code, 0, r.err.join('\n'));
  for (const line of [/^arch\s+= qwen2$/m, /^n_vocab\s+= 151669$/m, /^n_layer\s+= 2$/m, /^n_head_kv\s+= 2$/m, /^file type\s+= all F32$/m, /^tensors\s+= 26: F32 26$/m]) {
    assert.match(r.out, line);
  }
});

test('bad arguments and bad files: non-zero exit, one clear line on stderr', () => {
  const model = tinyModel();
  const truncated = join(tmp, 'truncated.gguf');
  copyFileSync(model, truncated);
  truncateSync(truncated, 5000);
  const cases: [string[], number, RegExp][] = [
    [['frobnicate'], 2, /unknown command "frobnicate"/],
    [['generate', '--model', model, '--tokens', '1', '--bogus', 'x'], 2, /unknown option --bogus/],
    [['generate', '--model', model], 2, /exactly one of --prompt and --tokens/],
    [['generate', '--model', model, '--tokens', '1,999999999'], 2, /not a token id below 151669/],
    [['generate', '--model', model, '--tokens', '1', '-n', 'many'], 2, /-n must be a decimal integer, got "many"/],
    [['generate', '--model', model, '--tokens', '1', '--speculate', '16'], 2, /--speculate must be at most 15 \(a step checks 16 tokens at most\), got 16/],
    [['bench', '--model', model, '--speculate', '-1'], 2, /--speculate must be a decimal integer, got "-1"/],
    [['generate', '--model', model, '--tokens', '1', '--backend', 'cuda'], 2, /--backend must be webgpu or reference/],
    [['generate', '--model', model, '--tokens', '1', '-n', '100', '--ctx', '50'], 2, /exceeds the context of 50 tokens/],
    [['info', '--model', join(tmp, 'missing.gguf')], 1, /missing\.gguf: cannot open/],
    [['info', '--model', truncated], 1, /truncated\.gguf: .*truncated/],
    [['generate', '--model', truncated, '--tokens', '1'], 1, /truncated\.gguf/],
    // A directory: every command names the path.
    [['info', '--model', tmp], 1, new RegExp(`^hearth: ${tmp}: cannot open: it is a directory`)],
    [['tokenize', '--model', tmp], 1, new RegExp(`^hearth: ${tmp}: cannot open: it is a directory`)],
    [['generate', '--model', tmp, '--tokens', '1'], 1, new RegExp(`^hearth: ${tmp}: cannot open: it is a directory`)],
    [['bench', '--model', tmp], 1, new RegExp(`^hearth: ${tmp}: cannot open: it is a directory`)],
    [['replay', '--model', tmp, '--file', model], 1, new RegExp(`^hearth: ${tmp}: cannot open: it is a directory`)],
    [['replay', '--model', model, '--file', tmp], 1, new RegExp(`^hearth: ${tmp}: cannot read: EISDIR`)],
  ];
  for (const [args, code, pattern] of cases) {
    const r = hearth(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err.join(' | ')}`);
    assert.equal(r.err.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(r.err)}`);
    assert.match(r.err[0], pattern, args.join(' '));
  }
});

test('numbers are plain decimals within their ranges, checked before the model file is read', () => {
  // The model path does not exist: each bad argument must be reported before anything opens it.
  const missing = join(tmp, 'never-opened.gguf');
  const cases: [string[], RegExp][] = [
    [['-n', '1e3'], /^hearth: -n must be a decimal integer, got "1e3"/],
    [['--n', '0x10'], /^hearth: --n must be a decimal integer, got "0x10"/],
    [['-n', ''], /-n must be a decimal integer, got ""/],
    [['-n', ' 5'], /-n must be a decimal integer, got " 5"/],
    [['-n', '-1'], /-n must be a decimal integer, got "-1"/],
    [['--top-p', '2'], /^hearth: --top-p must be in \[0, 1\], got 2/],
    [['-top-p', '-0.5'], /^hearth: -top-p must be in \[0, 1\], got -0.5/],
    [['--min-p', '5'], /--min-p must be in \[0, 1\], got 5/],
    [['--min-p', 'NaN'], /--min-p must be a decimal number, got "NaN"/],
    [['--repeat-penalty', '0'], /--repeat-penalty must be a finite number > 0, got 0/],
    [['--repeat-penalty', '1e999'], /--repeat-penalty must be a finite number > 0, got 1e999/],
    [['--temp', '-1'], /--temp must be a finite number >= 0, got -1/],
    [['--temp', 'Infinity'], /--temp must be a decimal number, got "Infinity"/],
    [['--top-k', '1.5'], /--top-k must be a decimal integer, got "1.5"/],
    [['--seed', '1152921504606846976'], /--seed must be an integer in \[0, 4294967295\], got 1152921504606846976/],
    [['--seed', '4294967296'], /--seed must be an integer in \[0, 4294967295\]/],
    [['--ctx', '999999999'], /--ctx must be an integer in \[1, 16777216\], got 999999999/],
    [['--ctx', '0'], /--ctx must be an integer in \[1, 16777216\], got 0/],
    [['--backend', 'cuda'], /--backend must be webgpu or reference/],
  ];
  for (const [extra, pattern] of cases) {
    const args = ['generate', '--model', missing, '--tokens', '1', ...extra];
    const r = hearth(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err.join(' | ')}`);
    assert.equal(r.err.length, 1, `${args.join(' ')}: ${JSON.stringify(r.err)}`);
    assert.match(r.err[0], pattern, args.join(' '));
  }
  for (const [extra, pattern] of [
    [['--prompt-tokens', '0x10'], /--prompt-tokens must be a decimal integer, got "0x10"/],
    [['--gen-tokens', '0'], /--gen-tokens must be an integer in \[1, 16777216\], got 0/],
    [['--prompt-tokens', '16', '--gen-tokens', '4', '--ctx', '20'], /--ctx must be an integer in \[21, 16777216\], got 20/],
  ] as [string[], RegExp][]) {
    const r = hearth(['bench', '--model', missing, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.err.join(' | ')}`);
    assert.match(r.err[0], pattern);
  }
});

test('--tokens takes decimal ids separated by commas, and nothing else', () => {
  const model = tinyModel();
  for (const tokens of ['', ' ', '1,,2', '1,', ',1', '1;2', '0x10', '1e3', '-1', '1 2']) {
    const r = hearth(['generate', '--model', model, '--tokens', tokens, '-n', '1', '--backend', 'reference']);
    assert.equal(r.code, 2, `--tokens ${JSON.stringify(tokens)}: ${r.err.join(' | ')}`);
    assert.equal(r.err.length, 1);
    assert.match(r.err[0], /--tokens must be token ids separated by commas, got "/);
  }
  const r = hearth(['generate', '--model', model, '--tokens', '9707, 1879,11', '-n', '1', '--backend', 'reference', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(lastJson(r.out).prompt, [9707, 1879, 11]);
});

test('the largest values in range are accepted; --ctx past the trained context warns as llama.cpp does', () => {
  const model = tinyModel();
  const nCtxTrain = Number(/^n_ctx_train = (\d+)$/m.exec(hearth(['info', '--model', model]).out)![1]);
  const ok = hearth(['generate', '--model', model, '--tokens', '1,2', '-n', '2', '--backend', 'reference', '--json', '--temp', '0.5',
    '--top-p', '1', '--min-p', '0', '--top-k', '0', '--repeat-penalty', '1.1', '--seed', '4294967295']);
  assert.equal(ok.code, 0, ok.err.join('\n'));
  assert.deepEqual(ok.err, []);
  const past = hearth(['generate', '--model', model, '--tokens', '1,2', '-n', '2', '--backend', 'reference', '--json', '--ctx', String(nCtxTrain + 1)]);
  assert.equal(past.code, 0, past.err.join('\n'));
  assert.deepEqual(past.err, [`hearth: warning: --ctx ${nCtxTrain + 1} > n_ctx_train ${nCtxTrain} of the model -- possible training context overflow`]);
  assert.equal((lastJson(past.out).tokens as number[]).length, 2);
});

test('names and strings from the file are printed escaped and capped, never raw', () => {
  const g = readGGUF(tinyModel());
  const tensors = g.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(g, t) }));
  const hostile = '\x1b[2J\x1b[31mHACKED!!\x00\r\x9b';
  const variant = (name: string, edit: { metadata?: (m: GGUFMetaEntry[]) => GGUFMetaEntry[]; tensors?: typeof tensors }) => {
    const path = join(tmp, `${name}.gguf`);
    writeGGUF(path, { metadata: (edit.metadata ?? ((m) => m))(metadataEntries(g)), tensors: edit.tensors ?? tensors });
    return path;
  };
  const setString = (key: string, value: string) => (m: GGUFMetaEntry[]) => [...m.filter((e) => e.key !== key), { key, type: GGUFValueType.STRING, value }];
  const extra = { name: hostile, dims: [8], type: GGMLType.F32, data: new Uint8Array(32) };
  const raw = /[\p{Cc}\p{Cf}]/u;
  const cases: [string[], number, RegExp][] = [
    [['info', '--model', variant('dup', { tensors: [...tensors, extra, extra] })], 1, /duplicate tensor name "\\u001b\[2J\\u001b\[31mHACKED!!\\u0000\\r\\u009b"/],
    [['generate', '--model', variant('extra', { tensors: [...tensors, extra] }), '--tokens', '1', '--backend', 'reference'], 1, /unexpected tensor\(s\) "\\u001b\[2J/],
    [['info', '--model', variant('arch', { metadata: setString('general.architecture', hostile) })], 1, /architecture "\\u001b\[2J.*" is not supported/],
    [['info', '--model', variant('long', { tensors: [...tensors, { ...extra, name: 'n'.repeat(60000) }, { ...extra, name: 'n'.repeat(60000) }] })], 1, /duplicate tensor name "n{120}…"$/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = hearth(args);
    assert.equal(r.code, code, `${args[2]}: ${r.err.join(' | ')}`);
    assert.equal(r.err.length, 1, `${args[2]}: ${JSON.stringify(r.err)}`);
    assert.doesNotMatch(r.err[0], raw, args[2]);
    assert.ok(r.err[0].length < 400, `${args[2]}: ${r.err[0].length} characters`);
    assert.match(r.err[0], pattern, args[2]);
  }
  const report = hearth(['info', '--model', variant('name', { metadata: setString('general.name', hostile) })]);
  assert.equal(report.code, 0, report.err.join('\n'));
  assert.doesNotMatch(report.out.replaceAll('\n', ''), raw);
  assert.match(report.out, /^name {6}= \\u001b\[2J\\u001b\[31mHACKED!!\\u0000\\r\\u009b$/m);
});

test('a successful WebGPU run writes nothing to stderr with --json, and only its own lines without', () => {
  // Dawn prints two "Warning: max...BuffersPerPipelineLayout artificially reduced" lines to the
  // stderr of any process that enumerates a Vulkan adapter such as lavapipe; the CLI drops them.
  const model = tinyModel();
  for (const args of [
    ['generate', '--model', model, '--tokens', '1,2,3', '-n', '4', '--json'],
    ['bench', '--model', model, '--prompt-tokens', '8', '--gen-tokens', '2', '--json'],
  ]) {
    const r = hearth(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', args[0]);
  }
  const human = hearth(['generate', '--model', model, '--tokens', '1,2,3', '-n', '4']);
  assert.equal(human.code, 0, human.stderr);
  assert.deepEqual(human.err.map((l) => /^(load: |load \d+ ms, prefill)/.test(l)), [true, true, true, true], human.stderr);
  const bad = hearth(['generate', '--model', model, '--tokens', '1', '--ctx', '2', '-n', '4']);
  assert.equal(bad.code, 2, "the child's exit status comes through");
  assert.equal(bad.err.length, 1);
});
