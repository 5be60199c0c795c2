// `hearth replay` through the real process on the reference backend: one request per keystroke,
// and cache reuse must cut the tokens prefilled per request to a few.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runReplay, type ReplayResult } from '../engine/cli/replay.js';
import { serverBundle, tinyModel } from './support/inference-fixtures.js';

test('replay types the file, reports ttft and prefill percentiles with and without reuse, JSON last', async () => {
  const source = 'def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n';
  const lines: string[] = [];
  await runReplay({
    model: tinyModel(), source, backend: 'reference', json: false, nCtx: 512, maxTokens: 4, fileName: 'stats.py',
    serverPath: await serverBundle(), write: (l) => lines.push(l),
  });
  const r: ReplayResult = JSON.parse(lines[lines.length - 1]);
  assert.deepEqual(Object.keys(r), ['requests', 'ttft_p50_ms', 'ttft_p95_ms', 'prefill_tokens_p50', 'prefill_tokens_p95', 'prefill_tokens_total', 'no_reuse']);
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
