// One progress notification per model load, with the bytes read so far; it closes when the load
// ends (ready, failed or replaced).
import * as vscode from 'vscode';
import { humanBytes } from './format.js';
import { percent } from './state.js';

export class LoadNotification {
  private slot?: { report: (p: { increment: number; message: string }) => void; done: () => void; pct: number };

  constructor(private readonly title: () => string) {}

  /** Bytes loaded so far, or undefined once the load is over. */
  update(bytes: { loadedBytes: number; totalBytes: number } | undefined): void {
    if (!bytes) {
      this.slot?.done();
      this.slot = undefined;
      return;
    }
    if (!this.slot) {
      const slot: NonNullable<LoadNotification['slot']> = { report: () => undefined, done: () => undefined, pct: 0 };
      this.slot = slot;
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: this.title() }, (p) => new Promise<void>((resolve) => {
        slot.report = (x) => p.report(x);
        slot.done = resolve;
        if (this.slot !== slot) resolve();
      }));
    }
    const pct = percent(bytes.loadedBytes, bytes.totalBytes);
    this.slot.report({ increment: pct - this.slot.pct, message: `${humanBytes(bytes.loadedBytes)} of ${humanBytes(bytes.totalBytes)}` });
    this.slot.pct = pct;
  }
}
