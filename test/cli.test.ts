// The `hearth` CLI contract that external checks rely on: output formats, exit codes, one-line errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../engine/gguf/ggml.js';
import { readGGUF } from '../engine/gguf/gguf.js';
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
  return { code: r.status, out: r.stdout, err: r.stderr.split('\n').filter((l) => l && !/artificially reduced/.test(l)) };
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
    [['generate', '--model', model, '--tokens', '1', '-n', 'many'], 2, /-n must be an integer/],
    [['generate', '--model', model, '--tokens', '1', '--speculate', '16'], 2, /--speculate must be at most 15 \(a step checks 16 tokens at most\), got "16"/],
    [['bench', '--model', model, '--speculate', '-1'], 2, /--speculate must be an integer >= 0/],
    [['generate', '--model', model, '--tokens', '1', '--backend', 'cuda'], 2, /--backend must be webgpu or reference/],
    [['generate', '--model', model, '--tokens', '1', '-n', '100', '--ctx', '50'], 2, /exceeds the context of 50 tokens/],
    [['info', '--model', join(tmp, 'missing.gguf')], 1, /missing\.gguf: cannot open/],
    [['info', '--model', truncated], 1, /truncated\.gguf: .*truncated/],
    [['generate', '--model', truncated, '--tokens', '1'], 1, /truncated\.gguf/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = hearth(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err.join(' | ')}`);
    assert.equal(r.err.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(r.err)}`);
    assert.match(r.err[0], pattern, args.join(' '));
  }
});
