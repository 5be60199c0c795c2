// Notices said once per machine, not on every activation: VS Code cannot take a notification back,
// so one raised again by every restart of the extension host (a crash mid-download, a reload, a new
// window) stayed on screen, or covered the status bar, after it had been read. The first-run prompt
// ("pick a model") is one; the no-GPU warning another, once per adapter. After that the status bar
// ("no model") and the log carry them.
import type { MementoLike } from './models/header-memo.js';

const PREFIX = 'hearth.shown:';
export const FIRST_RUN = 'first-run-prompt';

export class Once {
  constructor(private readonly store: MementoLike) {}

  /** True the first time `what` is asked for on this machine (and records it); false after that. */
  take(what: string): boolean {
    const key = PREFIX + what;
    if (this.store.get<boolean>(key) === true) return false;
    void this.store.update(key, true);
    return true;
  }
}
