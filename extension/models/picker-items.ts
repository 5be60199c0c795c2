// The model picker's entries, as data: models found on disk first (those the role can use), then
// the curated catalog's downloads for the role, each with its size and the memory it needs at the
// configured context, the one recommended for this computer marked; "Choose a file…" last. For
// chat, the first entry shares the completion model. No VS Code imports: tested under Node.
import { basename } from 'node:path';
import { defaultEntry, estimateFit, type CatalogFile, type FoundModel } from '../../engine/process/index.js';
import { humanBytes } from '../format.js';
import { fitSummary } from './fit-messages.js';

export type PickerRole = 'completion' | 'chat';

export type PickAction =
  | { kind: 'file'; path: string }
  | { kind: 'download'; entry: CatalogFile }
  | { kind: 'browse' }
  /** Chat: no model of its own, the completion model answers. */
  | { kind: 'shared' };

export interface PickerItem {
  label: string;
  description?: string;
  detail?: string;
  /** A section heading. */
  separator?: boolean;
  action?: PickAction;
}

export interface PickerInput {
  role: PickerRole;
  /** The models discovery found; undefined while it is still looking. */
  found: readonly FoundModel[] | undefined;
  /** The catalog with sizes from the Hub (catalogFiles); undefined while the Hub is being asked. */
  catalog: readonly CatalogFile[] | undefined;
  nCtx: number;
  /** The adapter the probe found; undefined before it ran. */
  device?: { software: boolean; adapter: string };
  /** Bytes a model may use, when known (a software adapter: free system memory). */
  budgetBytes?: number;
  /** The role's setting now ('' when unset). */
  current: string;
  /** The completion model's file, which chat shares without a model of its own. */
  completionModel: string;
}

const SOURCE: Record<FoundModel['source'], string> = { hub: 'Hugging Face cache', 'llama.cpp': 'llama.cpp cache', 'lm-studio': 'LM Studio', ollama: 'Ollama', folder: 'hearth.modelDirs' };

/** Whether a model found on disk can serve the role (completion needs FIM tokens). */
export function usableFor(role: PickerRole, m: FoundModel): boolean {
  return m.loadable && (role === 'chat' || m.fim);
}

export function pickerItems(i: PickerInput): PickerItem[] {
  const nSeq = i.role === 'chat' ? 1 : 2;
  const fitOpts = { nCtx: i.nCtx, nSeq, budgetBytes: i.budgetBytes, device: { software: i.device?.software ?? false } };
  const mark = (path: string) => (path === i.current ? '$(check) ' : '');
  const items: PickerItem[] = [];
  if (i.role === 'chat') {
    items.push({
      label: `${i.current ? '' : '$(check) '}Use the completion model`,
      description: i.completionModel ? basename(i.completionModel) : 'none set',
      detail: 'one model in memory for both; set a chat model for better answers (an Instruct model)',
      action: { kind: 'shared' },
    });
  }
  const catalog = i.catalog?.filter((e) => e.role === (i.role === 'chat' ? 'chat' : 'completion'));
  const inCatalog = (m: FoundModel) => catalog?.find((e) => m.hub && e.repo === m.hub.repo && e.file === m.hub.file);
  const usable = (i.found ?? []).filter((m) => usableFor(i.role, m));
  const others = (i.found?.length ?? 0) - usable.length;
  items.push({ label: `On this computer${others ? ` (${others} other GGUF file${others === 1 ? '' : 's'} cannot ${i.role === 'chat' ? 'run' : 'complete code'}: see the log)` : ''}`, separator: true });
  for (const m of usable) {
    const entry = inCatalog(m);
    const fit = m.shape ? fitSummary(estimateFit(basename(m.path), m.sizeBytes, m.shape, fitOpts)) : undefined;
    items.push({
      label: `${mark(m.path)}${entry?.label ?? m.name ?? basename(m.path)}`,
      description: `${m.quant} · ${humanBytes(m.sizeBytes)} · ${SOURCE[m.source]}`,
      detail: [m.label, fit].filter(Boolean).join(' — '),
      action: { kind: 'file', path: m.path },
    });
  }
  // The file set now, even where discovery does not look.
  const setElsewhere = !!i.current && !usable.some((m) => m.path === i.current);
  if (setElsewhere) {
    items.push({ label: `$(check) ${basename(i.current)}`, description: `now in hearth.${i.role === 'chat' ? 'chatModelPath' : 'modelPath'}`, detail: i.current, action: { kind: 'file', path: i.current } });
  }
  const searched = 'the Hugging Face, llama.cpp, LM Studio and Ollama folders, and hearth.modelDirs';
  // A first search reads every header (seconds on a large cache): "none found" only once it is over.
  if (!i.found) items.push({ label: '$(sync~spin) Looking for GGUF models on this computer…', description: searched });
  else if (!setElsewhere && !usable.length) items.push({ label: '$(info) No usable GGUF models found', description: searched });

  items.push({ label: 'Download from Hugging Face', separator: true });
  if (!catalog) {
    items.push({ label: '$(sync~spin) Asking the Hub for the download sizes…' });
  } else {
    const recommended = defaultEntry(i.role === 'chat' ? 'chat' : 'completion', i.device?.software ?? false);
    const onDisk = new Set(usable.map((m) => inCatalog(m)?.id).filter(Boolean));
    // The Hub unreachable: said once, not on every entry.
    const unreachable = catalog.length > 0 && catalog.every((e) => e.error && ['network', 'proxy', 'offline'].includes(e.error.code)) ? catalog[0].error : undefined;
    if (unreachable) items.push({ label: '$(cloud) The Hugging Face Hub cannot be reached: sizes are unknown and downloads will fail until it can', detail: unreachable.message });
    for (const e of catalog) {
      if (onDisk.has(e.id)) continue;
      const star = e.id === recommended.id ? '$(star-full) ' : '';
      let description: string, detail: string;
      if (e.sizeBytes !== undefined) {
        description = `${humanBytes(e.sizeBytes)} download`;
        detail = fitSummary(estimateFit(e.file, e.sizeBytes, e.shape, fitOpts));
      } else {
        description = 'size unknown';
        detail = unreachable ? `${e.size} parameters, ${e.quant}` : `the Hub did not say: ${e.error?.message ?? 'no answer'}`;
      }
      if (star) detail = `recommended for this computer — ${detail}`;
      items.push({ label: `${star}${e.label}`, description, detail: `${e.repo} — ${detail}`, action: { kind: 'download', entry: e } });
    }
  }
  items.push({ label: '', separator: true });
  items.push({ label: '$(folder-opened) Choose a file…', description: 'any GGUF file on disk', action: { kind: 'browse' } });
  return items;
}

/** The picker's title: what it picks, and the adapter that runs it, plainly when it is a software one. */
export function pickerTitle(role: PickerRole, device: PickerInput['device']): string {
  const what = role === 'chat' ? 'Hearth: Chat Model' : 'Hearth: Completion Model';
  const where = !device ? 'GPU not probed yet' : device.software ? `no GPU (${device.adapter} is a software adapter): models run on the CPU, small ones recommended` : `GPU: ${device.adapter}`;
  return `${what} — ${where}`;
}

export function pickerPlaceholder(role: PickerRole, nCtx: number): string {
  return `Pick ${role === 'chat' ? 'the model that chats' : 'the model that completes code'} · memory needed at ${nCtx} tokens of context (hearth.contextSize)`;
}
