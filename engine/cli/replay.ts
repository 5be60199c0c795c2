// `hearth replay`: types a source file character by character through the real inference process,
// sending a fill-in-the-middle completion after each keystroke (the next keystroke supersedes it),
// and measures time to first token and tokens prefilled per request, with the KV cache reused and
// with reuse turned off.
import { fileURLToPath } from 'node:url';
import { InferenceClient } from '../process/client.js';
import type { BackendName } from '../model/backend.js';
import type { DoneResponse, ErrorResponse } from '../process/protocol.js';

export interface ReplayOptions {
  model: string;
  /** The text to type. */
  source: string;
  backend: BackendName;
  /** Print only the JSON line. */
  json: boolean;
  nCtx?: number;
  /** Tokens each completion may generate (default 16); the next keystroke usually supersedes it first. */
  maxTokens?: number;
  /** Type only this many characters (default: all). */
  limit?: number;
  fileName?: string;
  /** The bundled server (default: server.js next to this bundle). */
  serverPath?: string;
  write?: (line: string) => void;
}

export interface ReplayStats {
  requests: number;
  ttft_p50_ms: number;
  ttft_p95_ms: number;
  prefill_tokens_p50: number;
  prefill_tokens_p95: number;
  prefill_tokens_total: number;
}

export interface ReplayResult extends ReplayStats {
  no_reuse: ReplayStats;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}

async function pass(client: InferenceClient, chars: string[], o: ReplayOptions, cache: boolean): Promise<ReplayStats> {
  const ttft: number[] = [];
  const results: Promise<DoneResponse | ErrorResponse>[] = [];
  let prefix = '';
  for (const ch of chars) {
    prefix += ch;
    const t0 = performance.now();
    let first: () => void = () => undefined;
    const firstSeen = new Promise<void>((r) => (first = r));
    const h = client.complete({ prefix, suffix: '', fileName: o.fileName, maxTokens: o.maxTokens ?? 16, cache }, first);
    results.push(h.result);
    // The first token, or the final message when there is none (end of text straight away).
    void h.result.then(first);
    await firstSeen;
    ttft.push(performance.now() - t0);
  }
  const finals = await Promise.all(results);
  const prefill: number[] = [];
  for (const f of finals) {
    if (f.type === 'error') throw new Error(`replay: request ${f.id} failed: ${f.code}: ${f.message}`);
    prefill.push(f.timings.prefillTokens);
  }
  return {
    requests: finals.length,
    ttft_p50_ms: percentile(ttft, 0.5), ttft_p95_ms: percentile(ttft, 0.95),
    prefill_tokens_p50: percentile(prefill, 0.5), prefill_tokens_p95: percentile(prefill, 0.95),
    prefill_tokens_total: prefill.reduce((a, b) => a + b, 0),
  };
}

const round = (s: ReplayStats): ReplayStats => ({ ...s, ttft_p50_ms: +s.ttft_p50_ms.toFixed(2), ttft_p95_ms: +s.ttft_p95_ms.toFixed(2) });

/** Runs the replay with and without cache reuse (one process, one load); prints a summary and a ReplayResult as the JSON last line. */
export async function runReplay(o: ReplayOptions): Promise<void> {
  const write = o.write ?? ((l: string) => process.stdout.write(l + '\n'));
  const chars = Array.from(o.source).slice(0, o.limit ?? Infinity);
  if (!chars.length) throw new Error('replay: the source file is empty');
  const client = new InferenceClient({ serverPath: o.serverPath ?? fileURLToPath(new URL('./server.js', import.meta.url)) });
  client.on('log', (l) => process.stderr.write(`[server] ${l}\n`));
  try {
    await client.start();
    const report = await client.load({ model: o.model, backend: o.backend, nCtx: o.nCtx ?? 2048 });
    if (!report.fim) throw new Error(`replay: ${o.model} has no fill-in-the-middle tokens`);
    const reuse = round(await pass(client, chars, o, true));
    const noReuse = round(await pass(client, chars, o, false));
    const result: ReplayResult = { ...reuse, no_reuse: noReuse };
    if (!o.json) {
      write(`replay: ${chars.length} keystrokes, ${report.name || report.model} on ${report.backend}, context ${report.nCtx}`);
      for (const [label, s] of [['reuse', reuse], ['no reuse', noReuse]] as const) {
        write(`  ${label.padEnd(8)}  ttft p50 ${s.ttft_p50_ms.toFixed(2)} ms  p95 ${s.ttft_p95_ms.toFixed(2)} ms | prefill p50 ${s.prefill_tokens_p50}  p95 ${s.prefill_tokens_p95}  total ${s.prefill_tokens_total} tokens`);
      }
    }
    write(JSON.stringify(result));
  } finally {
    await client.close();
  }
}
