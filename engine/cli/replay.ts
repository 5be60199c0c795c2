// `hearth replay`: types a source file character by character through the real inference process,
// sending a fill-in-the-middle completion after each keystroke (the next keystroke supersedes it),
// and measures time to first token and tokens prefilled per request, with the KV cache reused and
// with reuse turned off. Then completions that run to their end at points spread over the file,
// each with speculative decoding and without (same prompt, alternating which goes first): as typed
// (the cursor partway into a line, the lines after it as the suffix) and after accepting the
// suggestion (its text appended to the prefix, asked again). It reports steps, draft tokens kept per
// step and wall time per completion, and any completion whose text differs between the two.
import { fileURLToPath } from 'node:url';
import { InferenceClient } from '../process/client.js';
import type { BackendName } from '../model/backend.js';
import type { CompleteOptions } from '../process/client.js';
import type { DoneResponse, ErrorResponse, LoadReport } from '../process/protocol.js';

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
  /** Most draft tokens per step in the speculation passes (default 8; 0 skips them). */
  speculate?: number;
  /** Completion points of the speculation passes (default 24), spread over the file's non-blank lines. */
  points?: number;
  /** Tokens each of their completions generates at most (default 48). */
  completionTokens?: number;
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

/** Means over the completions of one speculation pass (decode ms: from the first token to the end). */
export interface SpeculationStats {
  completions: number;
  tokens: number;
  steps: number;
  wall_ms: number;
  decode_ms: number;
  /** Draft tokens checked, and kept, per decode step. */
  drafted_per_step: number;
  accepted_per_step: number;
}

export interface SpeculationReplay {
  speculate: number;
  typing: { on: SpeculationStats; off: SpeculationStats };
  accepting: { on: SpeculationStats; off: SpeculationStats };
  /** Completions whose text differed with and without speculation (the output must not change). */
  mismatches: number;
}

export interface ReplayResult extends ReplayStats {
  no_reuse: ReplayStats;
  /** Absent with speculate 0. */
  speculation?: SpeculationReplay;
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

/** Cursor positions: `count` non-blank lines spread over the text, each a third of the way into its text after the indentation. */
export function completionPoints(text: string, count: number): number[] {
  const lines: { start: number; end: number }[] = [];
  for (let start = 0; start < text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (text.slice(start, end).trim()) lines.push({ start, end });
    start = end + 1;
  }
  const picked = count >= lines.length ? lines : Array.from({ length: count }, (_, k) => lines[Math.floor(((k + 0.5) * lines.length) / count)]);
  return picked.map(({ start, end }) => {
    const indent = start + text.slice(start, end).search(/\S/);
    return indent + Math.floor((end - indent) / 3);
  });
}

function done(r: DoneResponse | ErrorResponse): DoneResponse {
  if (r.type === 'error') throw new Error(`replay: request ${r.id} failed: ${r.code}: ${r.message}`);
  return r;
}

function speculationStats(rs: DoneResponse[]): SpeculationStats {
  const mean = (f: (r: DoneResponse) => number) => +(rs.reduce((a, r) => a + f(r), 0) / Math.max(1, rs.length)).toFixed(3);
  const steps = rs.reduce((a, r) => a + r.timings.decodeSteps, 0);
  const per = (f: (r: DoneResponse) => number) => +(rs.reduce((a, r) => a + f(r), 0) / Math.max(1, steps)).toFixed(3);
  return {
    completions: rs.length, tokens: mean((r) => r.timings.decodeTokens), steps: mean((r) => r.timings.decodeSteps),
    wall_ms: mean((r) => r.timings.totalMs), decode_ms: mean((r) => r.timings.totalMs - Math.max(0, r.timings.ttftMs)),
    drafted_per_step: per((r) => r.timings.draftTokens), accepted_per_step: per((r) => r.timings.draftAccepted),
  };
}

/**
 * The speculation passes: at each point a completion as typed, then one after accepting it, each
 * run with and without speculation on the same warm cache (the prompt pre-loaded first), the
 * order alternating from point to point.
 */
async function speculationPasses(client: InferenceClient, text: string, o: ReplayOptions, speculate: number): Promise<SpeculationReplay> {
  const runs = { typing: { on: [] as DoneResponse[], off: [] as DoneResponse[] }, accepting: { on: [] as DoneResponse[], off: [] as DoneResponse[] } };
  let mismatches = 0;
  const both = async (req: CompleteOptions, into: { on: DoneResponse[]; off: DoneResponse[] }, onFirst: boolean): Promise<string> => {
    done(await client.complete({ ...req, maxTokens: 0 }).result);
    const order = onFirst ? [speculate, 0] : [0, speculate];
    const [a, b] = [done(await client.complete({ ...req, speculate: order[0] }).result), done(await client.complete({ ...req, speculate: order[1] }).result)];
    const [on, off] = onFirst ? [a, b] : [b, a];
    into.on.push(on);
    into.off.push(off);
    if (on.text !== off.text) mismatches++;
    return off.text;
  };
  const points = completionPoints(text, o.points ?? 24);
  for (const [k, at] of points.entries()) {
    const lineEnd = text.indexOf('\n', at);
    const req: CompleteOptions = { prefix: text.slice(0, at), suffix: lineEnd < 0 ? '' : text.slice(lineEnd), fileName: o.fileName, maxTokens: o.completionTokens ?? 48 };
    const answer = await both(req, runs.typing, k % 2 === 0);
    await both({ ...req, prefix: req.prefix + answer }, runs.accepting, k % 2 === 1);
  }
  const stats = (r: { on: DoneResponse[]; off: DoneResponse[] }) => ({ on: speculationStats(r.on), off: speculationStats(r.off) });
  return { speculate, typing: stats(runs.typing), accepting: stats(runs.accepting), mismatches };
}

/** Starts the inference process, loads the model (which must have FIM tokens), runs `f`, and closes it. */
async function withServer<T>(o: ReplayOptions, f: (client: InferenceClient, report: LoadReport) => Promise<T>): Promise<T> {
  const client = new InferenceClient({ serverPath: o.serverPath ?? fileURLToPath(new URL('./server.js', import.meta.url)) });
  client.on('log', (l) => process.stderr.write(`[server] ${l}\n`));
  try {
    await client.start();
    const report = await client.load({ model: o.model, backend: o.backend, nCtx: o.nCtx ?? 2048 });
    if (!report.fim) throw new Error(`replay: ${o.model} has no fill-in-the-middle tokens`);
    return await f(client, report);
  } finally {
    await client.close();
  }
}

/** Only the speculation passes over o.source (what `npm run bench` runs on files of this repository). */
export function runSpeculationReplay(o: ReplayOptions): Promise<SpeculationReplay> {
  return withServer(o, (client) => speculationPasses(client, o.source, o, o.speculate ?? 8));
}

/** Runs the replay with and without cache reuse, then the speculation passes (one process, one load); prints a summary and a ReplayResult as the JSON last line. */
export async function runReplay(o: ReplayOptions): Promise<void> {
  const write = o.write ?? ((l: string) => process.stdout.write(l + '\n'));
  const chars = Array.from(o.source).slice(0, o.limit ?? Infinity);
  if (!chars.length) throw new Error('replay: the source file is empty');
  await withServer(o, async (client, report) => {
    const reuse = round(await pass(client, chars, o, true));
    const noReuse = round(await pass(client, chars, o, false));
    const result: ReplayResult = { ...reuse, no_reuse: noReuse };
    const speculate = o.speculate ?? 8;
    if (speculate > 0) result.speculation = await speculationPasses(client, o.source, o, speculate);
    if (!o.json) {
      write(`replay: ${chars.length} keystrokes, ${report.name || report.model} on ${report.backend}, context ${report.nCtx}`);
      for (const [label, s] of [['reuse', reuse], ['no reuse', noReuse]] as const) {
        write(`  ${label.padEnd(8)}  ttft p50 ${s.ttft_p50_ms.toFixed(2)} ms  p95 ${s.ttft_p95_ms.toFixed(2)} ms | prefill p50 ${s.prefill_tokens_p50}  p95 ${s.prefill_tokens_p95}  total ${s.prefill_tokens_total} tokens`);
      }
      if (result.speculation) for (const l of speculationLines(result.speculation)) write(l);
    }
    write(JSON.stringify(result));
  });
}

/** The speculation passes as `hearth replay` prints them. */
export function speculationLines(sp: SpeculationReplay): string[] {
  const lines = [`completions to their end, speculate ${sp.speculate} against 0 (means per completion; ${sp.mismatches} texts differed):`];
  for (const [label, r] of [['typing', sp.typing], ['accepting', sp.accepting]] as const) {
    for (const [which, s] of [['on', r.on], ['off', r.off]] as const) {
      lines.push(`  ${label.padEnd(9)} ${which.padEnd(3)}  ${s.completions} completions  ${s.tokens.toFixed(1)} tokens in ${s.steps.toFixed(1)} steps  kept ${s.accepted_per_step.toFixed(2)} of ${s.drafted_per_step.toFixed(2)} draft tokens per step  wall ${s.wall_ms.toFixed(1)} ms  decode ${s.decode_ms.toFixed(1)} ms`);
    }
  }
  return lines;
}
