// llama.cpp side of `npm run bench`, run in its own process so its peak RSS is its own:
// node dist/bench-llama.js MODEL (cpu|vulkan|cuda) PROMPT_TOKENS GEN_TOKENS  → one JSON line.
import { availableParallelism } from 'node:os';
import { getLlama, type Token } from 'node-llama-cpp';
import { benchTokens } from '../engine/cli/bench.js';
import { readGGUF } from '../engine/gguf/gguf.js';
import { loadConfig } from '../engine/model/model.js';

const [model, backend, promptArg, genArg] = process.argv.slice(2);
const nPrompt = Number(promptArg ?? 256);
const nGen = Number(genArg ?? 64);
const WARM = 1000;

const nVocab = loadConfig(readGGUF(model)).nVocab;
const tokens = (n: number, seed: number) => benchTokens(n, seed, nVocab) as Token[];

const t0 = performance.now();
// One thread per core, as llama.cpp's own tools default to: node-llama-cpp's CPU default is at least
// 4, and spinning threads beyond the cores make each decode step wait on preempted ones (on this
// 2-core machine, 0.3 tok/s instead of ~20).
const llama = await getLlama({
  build: 'never', gpu: backend === 'cpu' ? false : (backend as 'vulkan' | 'cuda'), logLevel: 'error' as never,
  ...(backend === 'cpu' ? { maxThreads: availableParallelism() } : {}),
});
// llama.cpp's Vulkan backend skips CPU-type devices such as lavapipe unless GGML_VK_VISIBLE_DEVICES
// names them (test/bench.ts does): without a device it would quietly run on its CPU backend.
const devices = backend === 'cpu' ? [] : await llama.getGpuDeviceNames();
if (backend !== 'cpu' && devices.length === 0) throw new Error(`llama.cpp found no ${backend} device (GGML_VK_VISIBLE_DEVICES=${process.env.GGML_VK_VISIBLE_DEVICES ?? 'unset'})`);
const m = await llama.loadModel({ modelPath: model, gpuLayers: backend === 'cpu' ? 0 : 'max' });
const ctx = await m.createContext({ contextSize: 2048, batchSize: 512, sequences: 1, flashAttention: false });
const loadMs = performance.now() - t0;
const seq = ctx.getSequence();

// One untimed prompt-sized pass compiles pipelines and warms caches, as llama-bench's warmup run does
// (and as Hearth's side does).
await seq.evaluateWithoutGeneratingNewTokens(tokens(nPrompt, 4));
for await (const _ of seq.evaluate(tokens(1, 5), { temperature: 0 })) { void _; break; }
await seq.clearHistory();

const prompt = tokens(nPrompt, 1);
let t = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(prompt);
const prefillMs = performance.now() - t;

t = performance.now();
let got = 0;
for await (const _ of seq.evaluate([prompt[prompt.length - 1]], { temperature: 0 })) {
  void _;
  if (++got >= nGen) break;
}
const decodeMs = performance.now() - t;

await seq.clearHistory();
await seq.evaluateWithoutGeneratingNewTokens(tokens(WARM, 2));
t = performance.now();
for await (const _ of seq.evaluate(tokens(1, 3), { temperature: 0 })) { void _; break; }
const warmTtftMs = performance.now() - t;

const vram = backend === 'cpu' ? null : await llama.getVramState();
console.log(JSON.stringify({
  engine: `llama.cpp-${backend}`, device: backend === 'cpu' ? 'cpu' : devices.join(', '), load_ms: Math.round(loadMs),
  prefill_tok_s: nPrompt / (prefillMs / 1000), decode_tok_s: got / (decodeMs / 1000),
  warm_ttft_ms: warmTtftMs, vram_bytes: vram ? vram.used : 0,
  peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
}));
await ctx.dispose();
await m.dispose();
await llama.dispose();
