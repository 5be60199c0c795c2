// Shared by the inference-process and CLI tests: bundles of the entry points (built here, so a partial
// `node build.mjs test/x.test.ts` suffices), fixture models with and without a chat template, and
// greedy answers computed in this process with the reference model, to check the server's output.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { GGMLType } from '../../engine/gguf/ggml.js';
import { GGUFValueType, readGGUF, readTensorBytes } from '../../engine/gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../../engine/gguf/gguf-writer.js';
import { ReferenceModel } from '../../engine/model/reference.js';
import { Tokenizer } from '../../engine/tokenizer/tokenizer.js';
import { fixtureModel } from './fixtures.js';

const cache = resolve(process.cwd(), '.cache');

/** Bundles an engine entry point as build.mjs does, so a partial build suffices; returns the bundle's path. */
export async function bundle(entry: string, name: string): Promise<string> {
  const dir = join(cache, 'test-bundles');
  const r = await build({
    entryPoints: [entry], write: false, bundle: true, platform: 'node', target: 'node20',
    format: 'esm', packages: 'external', loader: { '.wgsl': 'text' }, logLevel: 'warning',
    banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
  });
  // Written then renamed: a process starting meanwhile never reads a partial bundle.
  const path = join(dir, `${name}.mjs`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${path}.${process.pid}.tmp`, r.outputFiles[0].contents);
  renameSync(`${path}.${process.pid}.tmp`, path);
  return path;
}

export const serverBundle = () => bundle('engine/process/server.ts', 'server');

/** A tiny qwen2 model with the real Qwen2 vocabulary (FIM tokens included). */
export function tinyModel(): string {
  return fixtureModel({ arch: 'qwen2', vocab: 'qwen2', type: GGMLType.F32, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, seed: 7 });
}

/** tinyModel plus the Qwen2.5 chat template from shared/templates. */
export function tinyChatModel(): string {
  const base = tinyModel();
  const template = readFileSync(resolve(process.cwd(), '../shared/templates/Qwen-Qwen2.5-7B-Instruct.jinja'), 'utf8');
  const key = createHash('sha256').update(base).update(template).digest('hex').slice(0, 12);
  const path = join(cache, 'fixtures', `chat-${key}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(join(cache, 'fixtures'), { recursive: true });
  const g = readGGUF(base);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeGGUF(tmp, {
      metadata: [...metadataEntries(g), { key: 'tokenizer.chat_template', type: GGUFValueType.STRING, value: template }],
      tensors: g.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(g, t) })),
    });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return path;
}

/** Greedy decoding of `prompt` with the reference model in this process: the answer the server must give. */
export async function greedy(model: string, prompt: number[], maxTokens: number, nCtx = 512): Promise<{ tokens: number[]; text: string }> {
  const g = readGGUF(model);
  const tok = Tokenizer.fromGGUF(g);
  const m = ReferenceModel.load(g, { nCtx });
  try {
    const tokens: number[] = [];
    let pos = 0;
    let input = prompt;
    for (let i = 0; i < maxTokens; i++) {
      const logits = await m.forward(0, input, pos);
      pos += input.length;
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      if (tok.isEog(best)) break;
      tokens.push(best);
      input = [best];
    }
    return { tokens, text: tok.decode(tokens) };
  } finally {
    m.dispose();
  }
}
