// The model pickers (hearth.pickModel, hearth.pickChatModel) in VS Code: a QuickPick that opens at
// once and fills in as discovery (with remembered headers) and the Hub's file list answer; a catalog
// pick downloads under a cancellable progress notification and then sets the model. Settings are
// written where they are set (workspace over user), by default in the user settings.
import * as vscode from 'vscode';
import { catalogFiles, discoverModels, type CatalogFile, type FoundModel } from '../../engine/process/index.js';
import type { HearthConfig } from '../config.js';
import type { EngineHost } from '../engine-host.js';
import { downloadModel, proxySettings } from './download.js';
import { HeaderMemo } from './header-memo.js';
import { pickerItems, pickerPlaceholder, pickerTitle, usableFor, type PickAction, type PickerRole } from './picker-items.js';

export interface PickerDeps {
  config: () => HearthConfig;
  engine: EngineHost;
  /** The extension's global state (remembered headers). */
  memento: vscode.Memento;
  log: vscode.LogOutputChannel;
  /** `~` and workspace-relative paths made absolute. */
  expandPath: (p: string) => string;
}

const settingOf = (role: PickerRole) => (role === 'chat' ? 'chatModelPath' : 'modelPath');

/** Writes a setting where it is currently set (workspace over user), so the change takes effect; undefined removes it. */
export async function writeSetting(key: string, value: unknown): Promise<void> {
  const c = vscode.workspace.getConfiguration('hearth');
  const i = c.inspect(key);
  const target = i?.workspaceFolderValue !== undefined ? vscode.ConfigurationTarget.WorkspaceFolder
    : i?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await c.update(key, value, target);
}

/** "Choose a file…": an open dialog for a GGUF file. */
export async function pickModelFile(role: PickerRole = 'completion'): Promise<void> {
  const picked = await vscode.window.showOpenDialog({
    title: `Hearth: pick a GGUF ${role === 'chat' ? 'chat ' : ''}model file`, canSelectMany: false, canSelectFiles: true, canSelectFolders: false,
    filters: { 'GGUF models': ['gguf'], 'All files': ['*'] },
  });
  if (picked?.[0]) await writeSetting(settingOf(role), picked[0].fsPath);
}

/** GGUF models on disk (standard places and hearth.modelDirs), headers remembered across sessions; what was skipped goes to the log. */
export async function findModels(d: PickerDeps, role: PickerRole): Promise<FoundModel[]> {
  const memo = new HeaderMemo(d.memento);
  const t0 = performance.now();
  const { models, skipped } = await discoverModels({ extraDirs: d.config().modelDirs.map(d.expandPath), memo });
  await memo.save();
  d.log.info(`models on disk: ${models.length} found, ${skipped.length} skipped in ${(performance.now() - t0).toFixed(0)} ms`);
  for (const m of models) if (!usableFor(role, m)) d.log.info(`  ${m.path}: ${m.problem ?? (role === 'completion' && !m.fim ? 'no fill-in-the-middle tokens: it cannot complete code' : 'not usable')}`);
  for (const s of skipped) d.log.info(`  skipped ${s.path}: ${s.reason}`);
  return models;
}

type Item = vscode.QuickPickItem & { action?: PickAction };

export async function pickModel(role: PickerRole, d: PickerDeps): Promise<void> {
  const cfg = d.config();
  const probe = d.engine.probe;
  const device = probe && { software: probe.software, adapter: probe.adapter };
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = pickerTitle(role, device);
  qp.placeholder = pickerPlaceholder(role, cfg.contextSize);
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  let found: FoundModel[] | undefined;
  let catalog: CatalogFile[] | undefined;
  let open = true;
  const render = () => {
    if (!open) return;
    const active = qp.activeItems[0]?.label;
    qp.items = pickerItems({
      role, found, catalog, nCtx: cfg.contextSize, device, current: d.expandPath(role === 'chat' ? cfg.chatModelPath : cfg.modelPath),
      completionModel: d.expandPath(cfg.modelPath),
    }).map((x): Item => (x.separator ? { label: x.label, kind: vscode.QuickPickItemKind.Separator } : { label: x.label, description: x.description, detail: x.detail, action: x.action }));
    // Keep the highlighted entry where it was while the list fills in.
    const again = qp.items.find((x) => x.label === active);
    if (again) qp.activeItems = [again];
  };
  const ac = new AbortController();
  qp.busy = true;
  render();
  qp.show();
  const proxy = proxySettings((k) => vscode.workspace.getConfiguration('http').get(k), process.env);
  void Promise.all([
    findModels(d, role).then((m) => { found = m; render(); }, (e) => {
      d.log.error(`model discovery failed: ${(e as Error).message}`);
      found = [];
      render();
    }),
    catalogFiles({ ...proxy, signal: ac.signal, timeoutMs: 15_000, retries: 1 }).then((c) => { catalog = c; render(); }, (e) => d.log.error(`the Hub's file lists: ${(e as Error).message}`)),
  ]).finally(() => { qp.busy = false; });
  const picked = await new Promise<Item | undefined>((resolve) => {
    qp.onDidAccept(() => qp.selectedItems[0]?.action && resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
  });
  open = false;
  ac.abort();
  qp.dispose();
  const a = picked?.action;
  if (!a) return;
  if (a.kind === 'file') await writeSetting(settingOf(role), a.path);
  else if (a.kind === 'shared') await writeSetting('chatModelPath', undefined);
  else if (a.kind === 'browse') await pickModelFile(role);
  else await downloadAndUse(a.entry, role, d);
}

/** Downloads a catalog model under a cancellable notification, then makes it the role's model. */
async function downloadAndUse(entry: CatalogFile, role: PickerRole, d: PickerDeps): Promise<void> {
  const ac = new AbortController();
  const proxy = proxySettings((k) => vscode.workspace.getConfiguration('http').get(k), process.env);
  d.log.info(`downloading ${entry.repo}/${entry.file}${proxy.proxy ? ' through the proxy in http.proxy' : ''}`);
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Hearth: downloading ${entry.label}`, cancellable: true },
    (progress, token) => {
      token.onCancellationRequested(() => ac.abort());
      return downloadModel(entry, { ...proxy, signal: ac.signal, progress });
    },
  );
  if (outcome.kind === 'done') {
    const r = outcome.result;
    d.log.info(`${entry.repo}/${entry.file}: ${r.cached ? 'already in the Hugging Face cache' : `downloaded ${r.downloadedBytes} bytes, checksum verified`}: ${r.path}`);
    await writeSetting(settingOf(role), r.path);
  } else if (outcome.kind === 'cancelled') {
    d.log.info(outcome.message);
    void vscode.window.showInformationMessage(`Hearth: ${outcome.message}`);
  } else {
    d.log.error(outcome.message);
    void vscode.window.showErrorMessage(`Hearth: ${outcome.message}`, 'Show Log').then((x) => x && d.log.show(true));
  }
}
