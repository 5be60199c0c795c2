// The first-run prompt ("pick a model") is shown once per machine, not on every activation: VS Code
// cannot take a notification back, so one raised again by a restart of the extension host (a
// crash mid-download, a reload) stayed on screen after the model was picked and loaded. Once it
// has been shown, the status bar's "no model" and its menu offer the picker.
import type { MementoLike } from './models/header-memo.js';

export const FIRST_RUN_KEY = 'hearth.firstRunPromptShown';

export class FirstRun {
  constructor(private readonly store: MementoLike) {}

  /** True the first time on this machine (and records it); false after that. */
  take(): boolean {
    if (this.store.get<boolean>(FIRST_RUN_KEY) === true) return false;
    void this.store.update(FIRST_RUN_KEY, true);
    return true;
  }
}
