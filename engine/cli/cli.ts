#!/usr/bin/env node
// The `hearth` command line. Its output formats are a contract for external checks: keep them stable.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { readGGUF, type GGUF } from '../gguf/gguf.js';
import { escaped, quoted } from '../gguf/quoted.js';
import { FILE_TYPE_NAMES, typeName } from '../gguf/ggml.js';
import { loadConfig, MAX_CTX } from '../model/model.js';
import { Tokenizer, StreamDecoder } from '../tokenizer/tokenizer.js';
import { Sampler, defaultSampling, type Sampling } from '../model/sampler.js';
import { MAX_VERIFY_TOKENS, type Backend, type BackendName } from '../model/backend.js';
import { openBackend } from '../model/open.js';
import { profileDecode, runBench } from './bench.js';
import { DEFAULT_DRAFT_TOKENS, Speculator } from '../model/speculation.js';
import { WebGpuModel } from '../model/webgpu-model.js';
import { runReplay } from './replay.js';
import { runTemplate } from './template.js';
import { PULL_USAGE, pullCommand } from './pull.js';
import { MODELS_USAGE, modelsCommand } from './models.js';
import { isDawnNotice } from '../gpu/dawn-notices.js';

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

/** Each flag given: its value, and how it was typed (`-n` or `--n`), which is what errors name. */
type Flags = Map<string, { value: string | true; typed: string }>;

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
  if (!allowed) throw new UsageError(`unknown command ${quoted(cmd)}`);
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--?([a-z][a-z0-9-]*)$/.exec(a);
    if (!m) throw new UsageError(`unexpected argument ${quoted(a)}`);
    const name = m[1];
    if (!allowed.includes(name)) throw new UsageError(`${cmd}: unknown option ${a}`);
    if (flags.has(name)) throw new UsageError(`${cmd}: ${a} given twice`);
    if (BOOLEAN_FLAGS.has(name)) { flags.set(name, { value: true, typed: a }); continue; }
    const v = args[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    flags.set(name, { value: v, typed: a });
  }
  return flags;
}

/** How `name` was typed, for errors (as the usage spells it when it was not given). */
function typed(flags: Flags, name: string): string {
  return flags.get(name)?.typed ?? `${name.length === 1 ? '-' : '--'}${name}`;
}

function bool(flags: Flags, name: string): boolean {
  return flags.get(name)?.value === true;
}

function str(flags: Flags, name: string, def?: string): string {
  const v = flags.get(name)?.value;
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`missing --${name}`);
    return def;
  }
  return String(v);
}

/** Plain decimal digits: no sign, exponent, hex, blank or empty (which Number() would all accept). */
const INTEGER = /^[0-9]+$/;
const DECIMAL = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** Integers always have a maximum; numbers without one need only be finite. */
type Range = { int: true; min: number; max: number } | { int?: false; min: number; max?: number; above?: boolean };

/** A numeric flag, checked against its range; undefined when it was not given. */
function num(flags: Flags, name: string, r: Range): number | undefined {
  const v = flags.get(name)?.value;
  if (v === undefined) return undefined;
  const flag = typed(flags, name);
  const s = String(v);
  if (!(r.int ? INTEGER : DECIMAL).test(s)) throw new UsageError(`${flag} must be ${r.int ? 'a decimal integer' : 'a decimal number'}, got ${quoted(s)}`);
  const n = Number(s);
  const above = !r.int && r.above;
  if (!(above ? n > r.min : n >= r.min) || !(n <= (r.max ?? Number.MAX_VALUE))) {
    const range = r.max === undefined ? `a finite number ${above ? '>' : '>='} ${r.min}` : `${r.int ? 'an integer ' : ''}in [${r.min}, ${r.max}]`;
    throw new UsageError(`${flag} must be ${range}, got ${s}`);
  }
  return n;
}

/** Sampling flags, with llama.cpp's meaning and the values it accepts (top-k its int32, seed its uint32). */
function samplerParams(flags: Flags): Sampling {
  const d = defaultSampling;
  return {
    ...d,
    temperature: num(flags, 'temp', { min: 0 }) ?? 0,
    topK: num(flags, 'top-k', { int: true, min: 0, max: 0x7fffffff }) ?? d.topK,
    topP: num(flags, 'top-p', { min: 0, max: 1 }) ?? d.topP,
    minP: num(flags, 'min-p', { min: 0, max: 1 }) ?? d.minP,
    repeatPenalty: num(flags, 'repeat-penalty', { min: 0, above: true }) ?? d.repeatPenalty,
    seed: num(flags, 'seed', { int: true, min: 0, max: 0xffffffff }) ?? d.seed,
  };
}

/** --tokens: decimal ids separated by commas (blanks around them allowed), each below nVocab. */
function tokenIds(flags: Flags, nVocab: number): number[] {
  const v = str(flags, 'tokens');
  return v.split(',').map((item) => {
    const s = item.trim();
    if (!INTEGER.test(s)) throw new UsageError(`${typed(flags, 'tokens')} must be token ids separated by commas, got ${quoted(v)}`);
    const id = Number(s);
    if (id >= nVocab) throw new UsageError(`${typed(flags, 'tokens')}: ${s} is not a token id below ${nVocab}`);
    return id;
  });
}

/** A --ctx past the context the model was trained on is allowed, with llama.cpp's warning. */
function warnPastTraining(flags: Flags, nCtx: number | undefined, nCtxTrain: number): void {
  if (nCtx !== undefined && nCtx > nCtxTrain) {
    process.stderr.write(`hearth: warning: ${typed(flags, 'ctx')} ${nCtx} > n_ctx_train ${nCtxTrain} of the model -- possible training context overflow\n`);
  }
}

/** --speculate: most draft tokens per decoding step (0: off). */
function speculate(flags: Flags, def: number): number {
  const n = num(flags, 'speculate', { int: true, min: 0, max: 0x7fffffff }) ?? def;
  if (n > MAX_VERIFY_TOKENS - 1) throw new UsageError(`${typed(flags, 'speculate')} must be at most ${MAX_VERIFY_TOKENS - 1} (a step checks ${MAX_VERIFY_TOKENS} tokens at most), got ${n}`);
  return n;
}

function backendName(flags: Flags): BackendName {
  const b = str(flags, 'backend', 'webgpu');
  if (b !== 'webgpu' && b !== 'reference') throw new UsageError(`--backend must be webgpu or reference, got ${quoted(b)}`);
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
    `name      = ${escaped(String(g.metadata.get('general.name') ?? ''))}`,
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
  if (!bool(flags, 'json')) process.stderr.write(loadReport(g, backend, loadMs) + '\n');
  try {
    return await fn(backend, loadMs);
  } finally {
    backend.dispose();
  }
}

async function generate(flags: Flags) {
  // Every argument is checked before the model file is read, let alone loaded.
  if (flags.has('prompt') === flags.has('tokens')) throw new UsageError('give exactly one of --prompt and --tokens');
  const n = num(flags, 'n', { int: true, min: 0, max: MAX_CTX }) ?? 32;
  const params = samplerParams(flags);
  const most = speculate(flags, DEFAULT_DRAFT_TOKENS);
  backendName(flags);
  const ctx = num(flags, 'ctx', { int: true, min: 1, max: MAX_CTX });
  const g = readGGUF(str(flags, 'model'));
  const tok = Tokenizer.fromGGUF(g);
  const prompt = flags.has('prompt') ? tok.encode(str(flags, 'prompt'), { addBos: tok.addBos, parseSpecial: true }) : tokenIds(flags, tok.nVocab);
  if (prompt.length === 0) throw new UsageError('the prompt is empty');
  const { nCtxTrain } = loadConfig(g);
  warnPastTraining(flags, ctx, nCtxTrain);
  const nCtx = ctx ?? Math.min(nCtxTrain, 4096);
  if (prompt.length + n > nCtx) throw new UsageError(`prompt (${prompt.length} tokens) + ${typed(flags, 'n')} ${n} exceeds the context of ${nCtx} tokens (--ctx)`);
  const json = bool(flags, 'json');
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
  const nPrompt = num(flags, 'prompt-tokens', { int: true, min: 1, max: MAX_CTX }) ?? 256;
  const nGen = num(flags, 'gen-tokens', { int: true, min: 1, max: MAX_CTX }) ?? 32;
  const minCtx = nPrompt + nGen + 1;
  if (minCtx > MAX_CTX) throw new UsageError(`${typed(flags, 'prompt-tokens')} ${nPrompt} + ${typed(flags, 'gen-tokens')} ${nGen} do not fit in the largest context, ${MAX_CTX} tokens`);
  const most = speculate(flags, 0);
  backendName(flags);
  const ctx = num(flags, 'ctx', { int: true, min: minCtx, max: MAX_CTX });
  const g = readGGUF(str(flags, 'model'));
  warnPastTraining(flags, ctx, loadConfig(g).nCtxTrain);
  const nCtx = ctx ?? Math.max(2048, minCtx);
  await withBackend(g, flags, nCtx, async (backend, loadMs) => {
    const profiled = bool(flags, 'profile') ? webgpu(backend) : undefined;
    const r = await runBench(backend, nPrompt, nGen, most);
    const s = backend.stats();
    const profile = profiled && await profileDecode(profiled, nPrompt, PROFILE_STEPS);
    const result = {
      backend: backend.name, device: s.device, ...r, load_ms: Math.round(loadMs),
      vram_bytes: s.weightBytes + s.kvBytes + s.scratchBytes,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      ...(profile && { decode_profile: profile }),
    };
    if (!bool(flags, 'json')) {
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

/** A file's text; a failure names the file (Node's EISDIR message does not). */
function readSource(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/** Set in the child that runs a WebGPU command for rerunWithoutDawnNotices. */
const GPU_CHILD_ENV = 'HEARTH_CLI_GPU_CHILD';

/**
 * Runs this command line again in a child process, passing its output through except Dawn's
 * notices (dawn-notices.ts), which Dawn writes to the stderr of the process that uses WebGPU, out
 * of that process's reach. Resolves to the child's exit status.
 */
function rerunWithoutDawnNotices(argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'], env: { ...process.env, [GPU_CHILD_ENV]: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  let partial = '';
  const pass = (lines: string[]) => {
    const kept = lines.filter((l) => !isDawnNotice(l));
    if (kept.length) process.stderr.write(kept.map((l) => `${l}\n`).join(''));
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    pass(lines);
  });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot start ${process.execPath}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (partial) pass([partial]);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

async function main(argv: string[]): Promise<number | void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (cmd === 'pull' || cmd === 'models') return process.exit(await (cmd === 'pull' ? pullCommand : modelsCommand)(rest));
  const flags = parseFlags(cmd, rest);
  // replay's WebGPU runs in the inference process, whose client drops the notices the same way.
  if ((cmd === 'generate' || cmd === 'bench') && flags.get('backend')?.value !== 'reference' && !process.env[GPU_CHILD_ENV]) {
    return rerunWithoutDawnNotices(argv);
  }
  switch (cmd) {
    case 'info': {
      const path = str(flags, 'model');
      process.stdout.write(info(readGGUF(path)) + '\n');
      return;
    }
    case 'tokenize': return tokenize(flags);
    case 'generate': return generate(flags);
    case 'bench': return bench(flags);
    case 'template': return runTemplate(str(flags, 'model'), flags.get('json')?.value === true, (m) => new UsageError(m));
    case 'replay': {
      const model = str(flags, 'model');
      const backend = backendName(flags);
      const ctx = num(flags, 'ctx', { int: true, min: 16, max: MAX_CTX });
      const most = speculate(flags, DEFAULT_DRAFT_TOKENS);
      const nCtxTrain = loadConfig(readGGUF(model)).nCtxTrain;
      const file = str(flags, 'file');
      const source = readSource(file);
      warnPastTraining(flags, ctx, nCtxTrain);
      return runReplay({ model, source, fileName: file, backend, json: bool(flags, 'json'), nCtx: ctx ?? Math.min(nCtxTrain, 2048), speculate: most });
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`hearth: ${msg.split('\n')[0]}${e instanceof UsageError ? ' (hearth --help for usage)' : ''}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
