#!/usr/bin/env node
// The `hearth` command line. Its output formats are a contract for external checks: keep them stable.
import { readFileSync } from 'node:fs';
import { readGGUF, type GGUF } from '../gguf/gguf.js';
import { FILE_TYPE_NAMES, typeName } from '../gguf/ggml.js';
import { loadConfig } from '../model/model.js';
import { Tokenizer, StreamDecoder } from '../tokenizer/tokenizer.js';
import { Sampler, defaultSampling as defaultSamplerParams } from '../model/sampler.js';
import { MAX_VERIFY_TOKENS, type Backend, type BackendName } from '../model/backend.js';
import { openBackend } from '../model/open.js';
import { profileDecode, runBench } from './bench.js';
import { DEFAULT_DRAFT_TOKENS, Speculator } from '../model/speculation.js';
import { WebGpuModel } from '../model/webgpu-model.js';
import { runReplay } from './replay.js';
import { runTemplate } from './template.js';
import { PULL_USAGE, pullCommand } from './pull.js';
import { MODELS_USAGE, modelsCommand } from './models.js';

class UsageError extends Error {}

const USAGE = `usage: hearth <command> [options]
  info      --model FILE
  tokenize  --model FILE                   (stdin: JSON array of strings)
  generate  --model FILE (--prompt TEXT | --tokens 1,2,3) [-n N] [--temp T] [--top-k K] [--top-p P]
            [--min-p P] [--repeat-penalty R] [--seed S] [--ctx N] [--backend webgpu|reference] [--json]
            [--speculate N]                (most draft tokens per step, 0 = off; default ${DEFAULT_DRAFT_TOKENS})
  bench     --model FILE [--prompt-tokens 256] [--gen-tokens 32] [--backend webgpu|reference] [--json]
            [--profile]                    (then GPU time per kernel of a decode step)
            [--speculate N]                (default 0)
  replay    --model FILE --file SOURCE [--backend webgpu|reference] [--ctx N] [--json]
            [--speculate N]                (with and without speculation; default ${DEFAULT_DRAFT_TOKENS})
  template  --model FILE [--json]          (stdin: JSON array of {role, content}; stdout: the chat prompt)
  ${PULL_USAGE}
  ${MODELS_USAGE}`;

type Flags = Map<string, string | true>;

const BOOLEAN_FLAGS = new Set(['json', 'profile']);

/** Decode steps `bench --profile` times. */
const PROFILE_STEPS = 16;

const OPTIONS: Record<string, string[]> = {
  info: ['model'],
  tokenize: ['model'],
  generate: ['model', 'prompt', 'tokens', 'n', 'temp', 'top-k', 'top-p', 'min-p', 'repeat-penalty', 'seed', 'ctx', 'backend', 'json', 'speculate'],
  bench: ['model', 'prompt-tokens', 'gen-tokens', 'backend', 'json', 'ctx', 'profile', 'speculate'],
  replay: ['model', 'file', 'backend', 'json', 'ctx', 'speculate'],
  template: ['model', 'json'],
};

function parseFlags(cmd: string, args: string[]): Flags {
  const allowed = OPTIONS[cmd];
  if (!allowed) throw new UsageError(`unknown command "${cmd}"`);
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--?([a-z][a-z0-9-]*)$/.exec(a);
    if (!m) throw new UsageError(`unexpected argument "${a}"`);
    const name = m[1];
    if (!allowed.includes(name)) throw new UsageError(`${cmd}: unknown option ${a}`);
    if (flags.has(name)) throw new UsageError(`${cmd}: ${a} given twice`);
    if (BOOLEAN_FLAGS.has(name)) { flags.set(name, true); continue; }
    const v = args[++i];
    if (v === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, v);
  }
  return flags;
}

function str(flags: Flags, name: string, def?: string): string {
  const v = flags.get(name);
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`missing --${name}`);
    return def;
  }
  return String(v);
}

function num(flags: Flags, name: string, def: number, { int = false, min = -Infinity } = {}): number {
  const v = flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min) {
    throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}, got "${v}"`);
  }
  return n;
}

/** --speculate: most draft tokens per decoding step (0: off). */
function speculate(flags: Flags, def: number): number {
  const n = num(flags, 'speculate', def, { int: true, min: 0 });
  if (n > MAX_VERIFY_TOKENS - 1) throw new UsageError(`--speculate must be at most ${MAX_VERIFY_TOKENS - 1} (a step checks ${MAX_VERIFY_TOKENS} tokens at most), got "${flags.get('speculate')}"`);
  return n;
}

function backendName(flags: Flags): BackendName {
  const b = str(flags, 'backend', 'webgpu');
  if (b !== 'webgpu' && b !== 'reference') throw new UsageError(`--backend must be webgpu or reference, got "${b}"`);
  return b;
}

function humanBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  return `${(n / 1024).toFixed(2)} KiB`;
}

function info(g: GGUF): string {
  const c = loadConfig(g);
  const counts = new Map<string, number>();
  let params = 0;
  for (const t of g.tensors) {
    counts.set(typeName(t.type), (counts.get(typeName(t.type)) ?? 0) + 1);
    params += t.nelements;
  }
  const ft = g.metadata.get('general.file_type');
  const lines = [
    `file      = ${g.path}`,
    `format    = GGUF V${g.version}`,
    `arch      = ${c.arch}`,
    `name      = ${String(g.metadata.get('general.name') ?? '')}`,
    `n_vocab   = ${c.nVocab}`,
    `n_ctx_train = ${c.nCtxTrain}`,
    `n_embd    = ${c.nEmbd}`,
    `n_layer   = ${c.nLayer}`,
    `n_head    = ${c.nHead}`,
    `n_head_kv = ${c.nHeadKv}`,
    `n_rot     = ${c.nRot}`,
    `head_dim  = ${c.headDim}`,
    `n_ff      = ${c.nFf}`,
    `rms_eps   = ${c.rmsEps}`,
    `rope type = ${c.ropeNeox ? 'neox' : 'normal'}`,
    `rope freq_base = ${c.ropeFreqBase}`,
    `rope scaling = ${c.ropeScaling.type}${c.ropeScaling.type === 'none' ? '' : ` (factor ${c.ropeScaling.factor}, orig ctx ${c.ropeScaling.origCtx})`}`,
    `tied embeddings = ${c.tiedEmbeddings}`,
    `file type = ${typeof ft === 'number' ? FILE_TYPE_NAMES[ft] ?? `unknown (${ft})` : 'unspecified'}`,
    `model params = ${(params / 1e9).toFixed(3)} B`,
    `file size = ${humanBytes(g.fileSize)} (${(g.fileSize * 8 / params).toFixed(2)} BPW)`,
    `tensors   = ${g.tensors.length}: ${[...counts].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`,
  ];
  return lines.join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function tokenize(flags: Flags) {
  const tok = Tokenizer.fromGGUF(readGGUF(str(flags, 'model')));
  let input: unknown;
  try {
    input = JSON.parse(await readStdin());
  } catch (e) {
    throw new UsageError(`stdin must be a JSON array of strings: ${(e as Error).message}`);
  }
  if (!Array.isArray(input) || !input.every((s) => typeof s === 'string')) throw new UsageError('stdin must be a JSON array of strings');
  process.stdout.write(JSON.stringify(input.map((s: string) => tok.encode(s, { addBos: false, parseSpecial: false }))) + '\n');
}

/** What llama.cpp prints after loading: shape, file type, sizes, device memory, load time. */
function loadReport(g: GGUF, b: Backend, loadMs: number): string {
  const c = b.config;
  const s = b.stats();
  const ft = g.metadata.get('general.file_type');
  return [
    `load: ${b.name} backend on ${s.device}, n_vocab = ${c.nVocab}, n_ctx = ${b.nCtx}, n_embd = ${c.nEmbd}, n_layer = ${c.nLayer}, n_head = ${c.nHead}, n_head_kv = ${c.nHeadKv}`,
    `load: file type = ${typeof ft === 'number' ? FILE_TYPE_NAMES[ft] ?? `unknown (${ft})` : 'unspecified'}, model size = ${humanBytes(g.fileSize)}`,
    `load: ${b.name === 'webgpu' ? 'VRAM' : 'memory'}: weights ${humanBytes(s.weightBytes)}, KV cache ${humanBytes(s.kvBytes)}, scratch ${humanBytes(s.scratchBytes)}; load time ${loadMs.toFixed(0)} ms`,
  ].join('\n');
}

function webgpu(b: Backend): WebGpuModel {
  if (!(b instanceof WebGpuModel)) throw new UsageError('--profile times GPU kernels: it needs --backend webgpu');
  return b;
}

async function withBackend<T>(g: GGUF, flags: Flags, nCtx: number, fn: (b: Backend, loadMs: number) => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const backend = await openBackend(g, backendName(flags), { nCtx, nSeq: 1 });
  const loadMs = performance.now() - t0;
  if (flags.get('json') !== true) process.stderr.write(loadReport(g, backend, loadMs) + '\n');
  try {
    return await fn(backend, loadMs);
  } finally {
    backend.dispose();
  }
}

async function generate(flags: Flags) {
  const g = readGGUF(str(flags, 'model'));
  const tok = Tokenizer.fromGGUF(g);
  let prompt: number[];
  if (flags.has('prompt') === flags.has('tokens')) throw new UsageError('give exactly one of --prompt and --tokens');
  if (flags.has('prompt')) {
    prompt = tok.encode(str(flags, 'prompt'), { addBos: tok.addBos, parseSpecial: true });
  } else {
    prompt = str(flags, 'tokens').split(',').map((s) => {
      const id = Number(s.trim());
      if (!Number.isInteger(id) || id < 0 || id >= tok.nVocab) throw new UsageError(`--tokens: "${s}" is not a token id below ${tok.nVocab}`);
      return id;
    });
  }
  if (prompt.length === 0) throw new UsageError('the prompt is empty');
  const n = num(flags, 'n', 32, { int: true, min: 0 });
  const nCtx = num(flags, 'ctx', Math.min(loadConfig(g).nCtxTrain, 4096), { int: true, min: 1 });
  if (prompt.length + n > nCtx) throw new UsageError(`prompt (${prompt.length} tokens) + -n ${n} exceeds the context of ${nCtx} tokens (--ctx)`);
  const params = {
    ...defaultSamplerParams,
    temperature: num(flags, 'temp', 0, { min: 0 }),
    topK: num(flags, 'top-k', defaultSamplerParams.topK, { int: true, min: 0 }),
    topP: num(flags, 'top-p', defaultSamplerParams.topP, { min: 0 }),
    minP: num(flags, 'min-p', defaultSamplerParams.minP, { min: 0 }),
    repeatPenalty: num(flags, 'repeat-penalty', defaultSamplerParams.repeatPenalty, { min: 0 }),
    seed: num(flags, 'seed', defaultSamplerParams.seed, { int: true, min: 0 }),
  };
  const json = flags.get('json') === true;
  const most = speculate(flags, DEFAULT_DRAFT_TOKENS);
  await withBackend(g, flags, nCtx, async (backend, loadMs) => {
    const sampler = new Sampler(params);
    // Each step determines one token, or several where a draft from the tokens so far was kept.
    const steps = new Speculator(backend, sampler, { seq: 0, most });
    const history = [...prompt];
    const out: number[] = [];
    const decoder = new StreamDecoder(tok);
    let text = '';
    const t0 = performance.now();
    // Greedy without penalties picks on the device: one id comes back instead of n_vocab logits.
    let ahead = n > 0 ? [sampler.greedy ? await backend.forwardGreedy(0, prompt, 0) : sampler.sample(await backend.forward(0, prompt, 0), history)] : [];
    const prefillMs = performance.now() - t0;
    const decodeStart = performance.now();
    let decoded = 0;
    while (ahead.length) {
      const id = ahead.shift()!;
      // End of generation is not part of the answer, as in llama.cpp.
      if (tok.isEog(id)) break;
      history.push(id);
      out.push(id);
      const piece = decoder.push(id);
      text += piece;
      if (!json) process.stdout.write(piece);
      if (out.length === n) break;
      if (!ahead.length) {
        ahead = await steps.next(id, history.length - 1, history, n - out.length - 1);
        decoded += ahead.length;
      }
    }
    const tail = decoder.flush();
    text += tail;
    if (!json) process.stdout.write(tail + '\n');
    const decodeMs = performance.now() - decodeStart;
    const result = {
      prompt, tokens: out, text, load_ms: Math.round(loadMs),
      prefill_tok_s: prefillMs > 0 ? prompt.length / (prefillMs / 1000) : 0,
      decode_tok_s: decoded > 0 ? decoded / (decodeMs / 1000) : 0,
      steps: steps.steps, draft_tokens: steps.drafted, draft_accepted: steps.accepted,
    };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stderr.write(`load ${result.load_ms} ms, prefill ${result.prefill_tok_s.toFixed(1)} tok/s, decode ${result.decode_tok_s.toFixed(1)} tok/s\n`);
  });
}

async function bench(flags: Flags) {
  const g = readGGUF(str(flags, 'model'));
  const nPrompt = num(flags, 'prompt-tokens', 256, { int: true, min: 1 });
  const nGen = num(flags, 'gen-tokens', 32, { int: true, min: 1 });
  const nCtx = num(flags, 'ctx', Math.max(2048, nPrompt + nGen + 1), { int: true, min: nPrompt + nGen + 1 });
  const most = speculate(flags, 0);
  await withBackend(g, flags, nCtx, async (backend, loadMs) => {
    const profiled = flags.get('profile') === true ? webgpu(backend) : undefined;
    const r = await runBench(backend, nPrompt, nGen, most);
    const s = backend.stats();
    const profile = profiled && await profileDecode(profiled, nPrompt, PROFILE_STEPS);
    const result = {
      backend: backend.name, device: s.device, ...r, load_ms: Math.round(loadMs),
      vram_bytes: s.weightBytes + s.kvBytes + s.scratchBytes,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      ...(profile && { decode_profile: profile }),
    };
    if (flags.get('json') !== true) {
      process.stdout.write(`load ${result.load_ms} ms | prefill ${r.prefill_tok_s.toFixed(1)} tok/s | decode ${r.decode_tok_s.toFixed(1)} tok/s | warm ttft ${r.warm_ttft_ms.toFixed(1)} ms | VRAM ${humanBytes(result.vram_bytes)} | peak RSS ${humanBytes(result.peak_rss_bytes)}\n`);
      if (profile) {
        process.stdout.write(`decode step: ${profile.host_ms_per_step.toFixed(3)} ms to encode and submit ${profile.dispatches_per_step} dispatches\n`);
        process.stdout.write(`decode step, profiled: ${profile.wall_ms_per_token.toFixed(3)} ms wall, ${profile.gpu_ms_per_token.toFixed(3)} ms on the GPU\n`);
        for (const k of profile.kernels) process.stdout.write(`  ${k.kernel.padEnd(16)} ${k.ms_per_token.toFixed(3).padStart(9)} ms  ${(100 * k.ms_per_token / profile.gpu_ms_per_token).toFixed(1).padStart(5)}%  ${k.calls_per_token} passes\n`);
      }
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  });
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (cmd === 'pull' || cmd === 'models') return process.exit(await (cmd === 'pull' ? pullCommand : modelsCommand)(rest));
  const flags = parseFlags(cmd, rest);
  switch (cmd) {
    case 'info': {
      const path = str(flags, 'model');
      process.stdout.write(info(readGGUF(path)) + '\n');
      return;
    }
    case 'tokenize': return tokenize(flags);
    case 'generate': return generate(flags);
    case 'bench': return bench(flags);
    case 'template': return runTemplate(str(flags, 'model'), flags.get('json') === true, (m) => new UsageError(m));
    case 'replay': {
      const model = str(flags, 'model');
      const nCtxTrain = loadConfig(readGGUF(model)).nCtxTrain;
      const file = str(flags, 'file');
      const source = readFileSync(file, 'utf8');
      const nCtx = num(flags, 'ctx', Math.min(nCtxTrain, 2048), { int: true, min: 16 });
      return runReplay({ model, source, fileName: file, backend: backendName(flags), json: flags.get('json') === true, nCtx, speculate: speculate(flags, DEFAULT_DRAFT_TOKENS) });
    }
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`hearth: ${msg.split('\n')[0]}${e instanceof UsageError ? ' (hearth --help for usage)' : ''}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
