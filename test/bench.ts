// `npm run bench`: Hearth against llama.cpp (node-llama-cpp, Vulkan and CPU) on the same files in the
// same run. Fixtures with the exact shapes of Qwen2.5-Coder-0.5B and -1.5B are built once into
// .cache/bench (outside git). Each engine runs in its own process so load time and peak RSS are its own.
// Hearth's rows add a profiled decode step (`hearth bench --profile`): GPU time per kernel, and the
// wall time around it, which shows how long the GPU waits for the host; the host time to encode and
// submit a step, and its dispatches; and what a verification step of 1..16 tokens costs.
// Then speculative decoding on real code: `hearth replay`'s completions at points of files of this
// repository, as typed and after accepting, with and without speculation in the same process, on a
// trained model (random weights accept drafts at random, so their figures would mean nothing).
//   npm run bench -- [--models 0.5b,1.5b] [--types Q4_0,Q8_0,Q4_K] [--engines hearth,llama-vulkan,llama-cpu]
//                    [--prompt-tokens 256] [--gen-tokens 64] [--timeout-s 1800] [--out FILE]
//                    [--spec-model test/tiny-model/tiny-code-q8_0.gguf] [--spec-files a.ts,b.ts] [--spec-points 12] [--speculate 8]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodeProfile } from '../engine/cli/bench.js';
import { runSpeculationReplay, speculationLines, type SpeculationReplay } from '../engine/cli/replay.js';
import { GGMLType } from '../engine/gguf/ggml.js';
import { readGGUF } from '../engine/gguf/gguf.js';
import { loadConfig } from '../engine/model/model.js';
import { fixtureModel, QWEN25_CODER_0_5B, QWEN25_CODER_1_5B } from './support/fixtures.js';

const SHAPES = { '0.5b': QWEN25_CODER_0_5B, '1.5b': QWEN25_CODER_1_5B } as const;
const TYPES: Record<string, GGMLType> = { Q4_0: GGMLType.Q4_0, Q8_0: GGMLType.Q8_0, Q4_K: GGMLType.Q4_K, Q6_K: GGMLType.Q6_K, F16: GGMLType.F16 };
const ENGINES = ['hearth', 'llama-vulkan', 'llama-cpu'] as const;
type Engine = (typeof ENGINES)[number];

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

function list<T extends string>(name: string, def: string, allowed: readonly string[]): T[] {
  const v = arg(name, def).split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of v) if (!allowed.includes(x)) throw new Error(`--${name}: "${x}" is not one of ${allowed.join(', ')}`);
  return v as T[];
}

const dist = dirname(fileURLToPath(import.meta.url));
const models = list<keyof typeof SHAPES>('models', '0.5b,1.5b', Object.keys(SHAPES));
const types = list<string>('types', 'Q4_0,Q8_0,Q4_K', Object.keys(TYPES));
const engines = list<Engine>('engines', ENGINES.join(','), ENGINES);
const nPrompt = Number(arg('prompt-tokens', '256'));
const nGen = Number(arg('gen-tokens', '64'));
const timeoutS = Number(arg('timeout-s', '1800'));
const out = resolve(arg('out', '.cache/bench/results.json'));
const specModel = resolve(arg('spec-model', 'test/tiny-model/tiny-code-q8_0.gguf'));
const specFiles = arg('spec-files', 'engine/model/sampler.ts,engine/prompt/fim.ts,kernels/matmul.ts,engine/process/slot.ts').split(',').filter(Boolean);
const specPoints = Number(arg('spec-points', '12'));
const speculate = Number(arg('speculate', '8'));

function run(engine: Engine, file: string): Record<string, unknown> {
  const [cmd, args] = engine === 'hearth'
    ? [process.execPath, [join(dist, 'hearth.js'), 'bench', '--model', file, '--prompt-tokens', `${nPrompt}`, '--gen-tokens', `${nGen}`, '--profile', '--json']]
    : [process.execPath, [join(dist, 'bench-llama.js'), file, engine.slice('llama-'.length), `${nPrompt}`, `${nGen}`]];
  // Lets llama.cpp's Vulkan backend use a software device (lavapipe) too, as Hearth does.
  const env = { ...process.env, GGML_VK_VISIBLE_DEVICES: process.env.GGML_VK_VISIBLE_DEVICES ?? '0' };
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 26, env });
  const last = r.stdout?.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !last) {
    const why = r.error ? r.error.message : `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
    return { error: why };
  }
  return JSON.parse(last);
}

const fmt = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
const mib = (v: unknown) => (typeof v === 'number' ? (v / 2 ** 20).toFixed(0) : '-');

const rows: Record<string, unknown>[] = [];
mkdirSync(dirname(out), { recursive: true });
console.log('model       type  engine          load ms  peak RSS MiB  VRAM MiB  prefill t/s  decode t/s  warm TTFT ms');
for (const m of models) {
  for (const t of types) {
    const t0 = performance.now();
    const file = fixtureModel({ ...SHAPES[m], type: TYPES[t] }, resolve('.cache/bench'));
    const buildS = (performance.now() - t0) / 1000;
    if (buildS > 1) console.error(`built ${file} in ${buildS.toFixed(0)} s`);
    for (const e of engines) {
      const r: Record<string, unknown> & { model: string } = { model: `qwen2.5-coder-${m}-shape`, type: t, engine: e, prompt_tokens: nPrompt, gen_tokens: nGen, ...run(e, file) };
      rows.push(r);
      console.log(`${r.model.padEnd(11).slice(0, 24)} ${t.padEnd(5)} ${e.padEnd(14)} ${fmt(r.load_ms, 0).padStart(8)} ${mib(r.peak_rss_bytes).padStart(13)} ${mib(r.vram_bytes).padStart(9)} ${fmt(r.prefill_tok_s).padStart(12)} ${fmt(r.decode_tok_s, 2).padStart(11)} ${fmt(r.warm_ttft_ms).padStart(13)}${r.error ? `  error: ${r.error}` : ''}`);
      const p = r.decode_profile as DecodeProfile | undefined;
      if (p) {
        const top = p.kernels.slice(0, 4).map((k) => `${k.kernel} ${((100 * k.ms_per_token) / p.gpu_ms_per_token).toFixed(0)}%`).join(', ');
        console.log(`    decode step profiled: ${p.gpu_ms_per_token.toFixed(2)} ms on the GPU of ${p.wall_ms_per_token.toFixed(2)} ms; ${top}`);
        console.log(`    decode step: ${p.host_ms_per_step.toFixed(2)} ms to encode and submit ${p.dispatches_per_step} dispatches`);
      }
      const v = r.verify_step_ms as Record<string, number> | undefined;
      if (v) console.log(`    verification step ms by tokens: ${Object.entries(v).map(([n, ms]) => `${n}: ${ms.toFixed(1)}`).join(', ')}`);
      writeFileSync(out, JSON.stringify(rows, null, 1));
    }
  }
}

// Speculative decoding on files of this repository.
const speculation: (SpeculationReplay & { file: string; model: string })[] = [];
if (!engines.includes('hearth')) {
  // Nothing of Hearth's was asked for.
} else if (!existsSync(specModel)) {
  console.log(`speculation on real code: skipped, no trained model at ${specModel} (give --spec-model FILE)`);
} else {
  const nCtx = Math.min(loadConfig(readGGUF(specModel)).nCtxTrain, 2048);
  console.log(`speculation on real code: ${specModel}, context ${nCtx}, ${specPoints} points per file, speculate ${speculate} against 0`);
  for (const file of specFiles) {
    const r = await runSpeculationReplay({
      model: specModel, source: readFileSync(file, 'utf8'), fileName: file, backend: 'webgpu', json: true, nCtx,
      speculate, points: specPoints, serverPath: join(dist, 'server.js'),
    });
    speculation.push({ file, model: specModel, ...r });
    console.log(`  ${file}`);
    for (const l of speculationLines(r).slice(1)) console.log(`  ${l}`);
    if (r.mismatches) console.log(`    ${r.mismatches} completions differed with speculation: a bug`);
  }
}
writeFileSync(out, JSON.stringify({ engines: rows, speculation }, null, 1));
console.log(JSON.stringify({ engines: rows, speculation }));
