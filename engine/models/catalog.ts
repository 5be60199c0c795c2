// The curated models: Qwen2.5-Coder base models for completion (trained for fill-in-the-middle) and
// the matching Instruct models for chat, 0.5B to 7B, in Q8_0 and Q4_K_M, from Qwen's own GGUF
// repositories. Qwen splits its 7B Q8_0 files into parts, which Hearth does not load, so those two
// come from ggml-org (llama.cpp's organisation), converted from the same weights into one file.
// Download sizes and SHA-256s come from the Hub at run time (catalogFiles); the dimensions here
// (from each model's config.json) let the fit check estimate memory before download.
import type { PlanShape } from '../model/memory-plan.js';
import { HubError } from './hub-error.js';
import { listFiles, type HubFile, type HubOptions } from './hub.js';

export type CatalogRole = 'completion' | 'chat';
export type CatalogSize = '0.5B' | '1.5B' | '3B' | '7B';
export type CatalogQuant = 'Q8_0' | 'Q4_K_M';

export interface CatalogEntry {
  /** The file name without ".gguf", e.g. "qwen2.5-coder-1.5b-q8_0". */
  id: string;
  role: CatalogRole;
  label: string;
  size: CatalogSize;
  quant: CatalogQuant;
  repo: string;
  file: string;
  shape: PlanShape & { nCtxTrain: number };
}

const SHAPES: Record<CatalogSize, PlanShape & { nCtxTrain: number }> = {
  '0.5B': { nVocab: 151936, nEmbd: 896, nLayer: 24, nHead: 14, nHeadKv: 2, headDim: 64, nFf: 4864, nCtxTrain: 32768 },
  '1.5B': { nVocab: 151936, nEmbd: 1536, nLayer: 28, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, nCtxTrain: 32768 },
  '3B': { nVocab: 151936, nEmbd: 2048, nLayer: 36, nHead: 16, nHeadKv: 2, headDim: 128, nFf: 11008, nCtxTrain: 32768 },
  '7B': { nVocab: 152064, nEmbd: 3584, nLayer: 28, nHead: 28, nHeadKv: 4, headDim: 128, nFf: 18944, nCtxTrain: 32768 },
};

function entry(role: CatalogRole, size: CatalogSize, quant: CatalogQuant): CatalogEntry {
  const instruct = role === 'chat' ? '-Instruct' : '';
  const id = `qwen2.5-coder-${size.toLowerCase()}${instruct.toLowerCase()}-${quant.toLowerCase()}`;
  const split = size === '7B' && quant === 'Q8_0';
  const repo = split ? `ggml-org/Qwen2.5-Coder-7B${instruct}-Q8_0-GGUF` : `Qwen/Qwen2.5-Coder-${size}${instruct}-GGUF`;
  return { id, role, label: `Qwen2.5-Coder ${size}${instruct ? ' Instruct' : ''} (${quant})`, size, quant, repo, file: `${id}.gguf`, shape: SHAPES[size] };
}

export const CATALOG: readonly CatalogEntry[] = (['completion', 'chat'] as const).flatMap((role) =>
  (['0.5B', '1.5B', '3B', '7B'] as const).flatMap((size) => (['Q8_0', 'Q4_K_M'] as const).map((quant) => entry(role, size, quant))));

/**
 * The first-run choice: 1.5B Q8_0 on a GPU (fast enough to keep up with typing, good quality);
 * 0.5B Q8_0 on a software adapter, where every weight byte is read by the CPU for each token.
 */
export function defaultEntry(role: CatalogRole, software: boolean): CatalogEntry {
  return CATALOG.find((e) => e.role === role && e.size === (software ? '0.5B' : '1.5B') && e.quant === 'Q8_0')!;
}

export interface CatalogFile extends CatalogEntry {
  /** From the Hub's file list. */
  sizeBytes?: number;
  sha256?: string;
  /** Why the Hub could not say (unreachable, not found): the entry stays listed. */
  error?: HubError;
}

/** The catalog with download sizes and SHA-256s from the Hub: one file-list request per repository. */
export async function catalogFiles(o: HubOptions & { entries?: readonly CatalogEntry[] } = {}): Promise<CatalogFile[]> {
  const entries = o.entries ?? CATALOG;
  const repos = [...new Set(entries.map((e) => e.repo))];
  const lists = new Map<string, HubFile[] | HubError>(await Promise.all(repos.map(async (repo): Promise<[string, HubFile[] | HubError]> => {
    try {
      return [repo, await listFiles(repo, 'main', o)];
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      return [repo, e];
    }
  })));
  return entries.map((e) => {
    const list = lists.get(e.repo)!;
    if (list instanceof HubError) return { ...e, error: list };
    const f = list.find((x) => x.path === e.file);
    if (!f) return { ...e, error: new HubError('not-found', `${e.repo}: no file "${e.file}"`) };
    return { ...e, sizeBytes: f.size, sha256: f.sha256 };
  });
}
