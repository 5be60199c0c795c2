// The status bar item: state, model, last latency; a click opens the quick menu. Its accessible
// label is "Hearth: <state>" exactly (end-to-end tests read it from the DOM's aria-label).
import * as vscode from 'vscode';
import { statusView, type StatusInput, type StatusView } from './state.js';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('hearth.status', vscode.StatusBarAlignment.Right, 100);
  private shown?: string;

  constructor(private readonly onChange: (view: StatusView) => void) {
    this.item.name = 'Hearth';
    this.item.command = 'hearth.menu';
    this.item.show();
  }

  update(input: StatusInput): void {
    const v = statusView(input);
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.accessibilityInformation = { label: v.label };
    this.item.backgroundColor = v.state.startsWith('error') ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    if (v.state !== this.shown) {
      this.shown = v.state;
      this.onChange(v);
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
