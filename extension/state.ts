// What the status bar says, from the engine's state and the active editor: one function, no VS Code,
// so every state's text, accessible label (what end-to-end tests read) and tooltip are tested.

export type EngineState =
  | { kind: 'starting' }
  | { kind: 'loading'; loadedBytes: number; totalBytes: number }
  | { kind: 'ready' }
  | { kind: 'restarting' }
  | { kind: 'no-model' }
  /** Unloaded after `minutes` without use (hearth.idleUnloadMinutes); the next keystroke loads it again. */
  | { kind: 'unloaded'; minutes: number }
  | { kind: 'error'; message: string };

export interface ModelInfo {
  name: string;
  fileType: string;
  file: string;
  device: string;
}

export interface StatusInput {
  engine: EngineState;
  /** Hearth is switched on ("*" in hearth.enable). */
  enabled: boolean;
  /** The active editor's language, when there is one. */
  language?: string;
  languageEnabled: boolean;
  generating: boolean;
  model?: ModelInfo;
  /** The separate chat model, while one is loaded. */
  chatModel?: Pick<ModelInfo, 'name' | 'fileType'>;
  last?: { latencyMs: number; tokPerS: number };
}

export interface StatusView {
  /** The state word(s) after "Hearth: " in the label. */
  state: string;
  text: string;
  label: string;
  tooltip: string;
}

/** The first line of an error, short enough for a status bar label. */
export function shortMessage(message: string, max = 80): string {
  const line = message.split('\n')[0].trim();
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

export function percent(loaded: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
}

export function statusView(i: StatusInput): StatusView {
  let state: string;
  let icon: string;
  let suffix = '';
  const e = i.engine;
  if (!i.enabled && !(i.language && i.languageEnabled)) {
    state = 'disabled';
    icon = '$(circle-slash)';
  } else if (e.kind === 'error') {
    state = `error: ${shortMessage(e.message)}`;
    icon = '$(error)';
  } else if (e.kind === 'no-model') {
    state = 'no model';
    icon = '$(warning)';
  } else if (e.kind === 'starting' || e.kind === 'loading') {
    const pct = e.kind === 'loading' ? percent(e.loadedBytes, e.totalBytes) : 0;
    state = `loading ${pct}%`;
    icon = '$(sync~spin)';
    suffix = ` ${pct}%`;
  } else if (e.kind === 'unloaded') {
    state = 'unloaded';
    icon = '$(debug-pause)';
  } else if (e.kind === 'restarting') {
    state = 'restarting';
    icon = '$(sync~spin)';
    suffix = ' restarting';
  } else if (i.language && !i.languageEnabled) {
    state = `disabled for ${i.language}`;
    icon = '$(circle-slash)';
  } else if (i.generating) {
    state = 'generating';
    icon = '$(loading~spin)';
  } else {
    state = 'ready';
    icon = '$(check)';
  }
  const lines = [`Hearth: ${state}`];
  if (e.kind === 'unloaded') lines.push(`The model was unloaded after ${e.minutes} minutes without use (hearth.idleUnloadMinutes), freeing its memory; the next keystroke loads it again`);
  if (i.model) lines.push(`Model: ${i.model.name} (${i.model.fileType})`, `File: ${i.model.file}`, `Device: ${i.model.device}`);
  if (i.chatModel) lines.push(`Chat model: ${i.chatModel.name} (${i.chatModel.fileType})`);
  if (i.last) lines.push(`Last completion: ${Math.round(i.last.latencyMs)} ms, ${i.last.tokPerS.toFixed(1)} tok/s`);
  lines.push('Click for the Hearth menu');
  return { state, text: `${icon} Hearth${suffix}`, label: `Hearth: ${state}`, tooltip: lines.join('\n') };
}
