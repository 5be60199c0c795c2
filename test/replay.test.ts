// `hearth replay` through the real process on the reference backend: one request per keystroke,
// and cache reuse must cut the tokens prefilled per request to a few; completions run to their end
// with speculation and without give the same texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completionPoints, runReplay, type ReplayResult } from '../engine/cli/replay.js';
import { serverBundle, tinyModel } from './support/inference-fixtures.js';

test('replay types the file, reports ttft and prefill percentiles with and without reuse, JSON last', async () => {
  const source = 'def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n';
  const lines: string[] = [];
  await runReplay({
    model: tinyModel(), source, backend: 'reference', json: false, nCtx: 512, maxTokens: 4, fileName: 'stats.py',
    serverPath: await serverBundle(), write: (l) => lines.push(l), points: 2, completionTokens: 6,
  });
  const r: ReplayResult = JSON.parse(lines[lines.length - 1]);
  assert.deepEqual(Object.keys(r), ['requests', 'ttft_p50_ms', 'ttft_p95_ms', 'prefill_tokens_p50', 'prefill_tokens_p95', 'prefill_tokens_total', 'no_reuse', 'speculation']);
  assert.match(lines[0], new RegExp(`^replay: ${source.length} keystrokes`));
  assert.equal(r.requests, source.length);
  assert.equal(r.no_reuse.requests, source.length);
  for (const s of [r, r.no_reuse]) assert.ok(s.ttft_p50_ms > 0 && s.ttft_p95_ms >= s.ttft_p50_ms);
  // With reuse a keystroke re-runs the last token or two of the cursor line; a new line re-runs
  // that line. Without reuse every request prefills its whole prompt.
  assert.ok(r.prefill_tokens_p50 <= 2, `p50 ${r.prefill_tokens_p50}`);
  assert.ok(r.prefill_tokens_p95 <= 12, `p95 ${r.prefill_tokens_p95}`);
  assert.ok(r.no_reuse.prefill_tokens_p50 >= 15, `no reuse p50 ${r.no_reuse.prefill_tokens_p50}`);
  assert.ok(r.no_reuse.prefill_tokens_total > 8 * r.prefill_tokens_total, `${r.no_reuse.prefill_tokens_total} vs ${r.prefill_tokens_total}`);
});

test('replay runs completions to their end with speculation and without, as typed and after accepting, and says whether a text differed', async () => {
  const source = 'def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n';
  // Points a third into the text (after the indentation) of non-blank lines spread over the file: "tot|al".
  assert.deepEqual(completionPoints(source, 2), [source.indexOf('total = 0') + 3, source.indexOf('total += x') + 3]);
  assert.deepEqual(completionPoints('a\n\n  bcdef\n', 5), [0, 6]);
  const lines: string[] = [];
  await runReplay({
    model: tinyModel(), source, backend: 'reference', json: false, nCtx: 512, maxTokens: 2, limit: 1, fileName: 'stats.py',
    serverPath: await serverBundle(), write: (l) => lines.push(l), speculate: 4, points: 2, completionTokens: 8,
  });
  const s = (JSON.parse(lines[lines.length - 1]) as ReplayResult).speculation!;
  assert.equal(s.speculate, 4);
  assert.equal(s.mismatches, 0, 'the output is the same with and without speculation');
  for (const pass of [s.typing, s.accepting]) {
    for (const x of [pass.on, pass.off]) {
      assert.equal(x.completions, 2);
      assert.ok(x.tokens > 0 && x.steps > 0 && x.wall_ms > 0 && x.decode_ms > 0, JSON.stringify(x));
    }
    assert.equal(pass.off.drafted_per_step, 0);
    assert.equal(pass.on.tokens, pass.off.tokens);
    // Each step gives one token and the draft tokens it kept (where the completions ran to their token limit).
    if (pass.on.tokens === 8) assert.ok(Math.abs(pass.on.steps * (1 + pass.on.accepted_per_step) - 7) < 1e-2, JSON.stringify(pass.on));
  }
  assert.ok(lines.some((l) => /^completions to their end, speculate 4 against 0 \(means per completion; 0 texts differed\):$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^  typing +on +2 completions +[\d.]+ tokens in [\d.]+ steps +kept [\d.]+ of [\d.]+ draft tokens per step +wall [\d.]+ ms +decode [\d.]+ ms$/.test(l)), lines.join('\n'));
});
