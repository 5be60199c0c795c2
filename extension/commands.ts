// The commands (titles "Hearth: ..."), the quick menu behind the status bar item, and the settings
// they write. Partial accepts use our own knowledge of the suggestion on screen; when it is not ours
// (another provider's), they hand over to VS Code's built-in partial accepts.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { enabledFor, globallyEnabled, type HearthConfig } from './config.js';
import type { HearthProvider } from './completion/provider.js';
import { nextLine, nextWord } from './completion/words.js';
import { pickModelFile, writeSetting } from './models/picker.js';
import type { PickerRole } from './models/picker-items.js';

export interface CommandDeps {
  provider: HearthProvider;
  config: () => HearthConfig;
  log: vscode.LogOutputChannel;
  pickModel: (role: PickerRole) => Promise<void>;
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const trigger = async (noCache: boolean) => {
    d.provider.nextCall = { manual: true, noCache };
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  };
  const accept = async (take: (s: string) => string, builtin: string) => {
    const editor = vscode.window.activeTextEditor;
    const s = editor && d.provider.current(editor);
    if (!editor || !s) {
      await vscode.commands.executeCommand(builtin);
      return;
    }
    const part = take(s);
    if (!part) return;
    const at = editor.selection.active;
    await editor.edit((b) => b.insert(at, part), { undoStopBefore: true, undoStopAfter: false });
    // The rest comes from the cache (typed through): ask for it now.
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  };
  const toggle = async () => {
    const c = d.config();
    await writeSetting('enable', { ...c.enable, '*': !globallyEnabled(c) });
  };
  const toggleLanguage = async (lang: string) => {
    const c = d.config();
    await writeSetting('enable', { ...c.enable, [lang]: !enabledFor(c, lang) });
  };
  const menu = async () => {
    const c = d.config();
    const lang = vscode.window.activeTextEditor?.document.languageId;
    type Item = vscode.QuickPickItem & { run: () => Thenable<unknown> | Promise<unknown> };
    const items: Item[] = [
      { label: globallyEnabled(c) ? '$(circle-slash) Disable Hearth' : '$(check) Enable Hearth', run: toggle },
    ];
    if (lang) items.push({ label: enabledFor(c, lang) ? `$(circle-slash) Disable for ${lang}` : `$(check) Enable for ${lang}`, run: () => toggleLanguage(lang) });
    items.push(
      { label: '$(hubot) Completion Model…', description: c.modelPath ? basename(c.modelPath) : 'none set', run: () => d.pickModel('completion') },
      { label: '$(comment-discussion) Chat Model…', description: c.chatModelPath ? basename(c.chatModelPath) : 'the completion model', run: () => d.pickModel('chat') },
      { label: '$(output) Show Log', run: async () => d.log.show(true) },
      { label: '$(gear) Open Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'hearth') },
    );
    const pick = await vscode.window.showQuickPick(items, { title: 'Hearth' });
    await pick?.run();
  };
  return [
    vscode.commands.registerCommand('hearth.toggle', toggle),
    vscode.commands.registerCommand('hearth.trigger', () => trigger(false)),
    vscode.commands.registerCommand('hearth.triggerNoCache', () => trigger(true)),
    vscode.commands.registerCommand('hearth.acceptNextWord', () => accept(nextWord, 'editor.action.inlineSuggest.acceptNextWord')),
    vscode.commands.registerCommand('hearth.acceptNextLine', () => accept(nextLine, 'editor.action.inlineSuggest.acceptNextLine')),
    vscode.commands.registerCommand('hearth.nextAlternative', async () => {
      d.provider.cycle(1);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.showNext');
    }),
    vscode.commands.registerCommand('hearth.previousAlternative', async () => {
      d.provider.cycle(-1);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.showPrevious');
    }),
    vscode.commands.registerCommand('hearth.pickModel', () => d.pickModel('completion')),
    vscode.commands.registerCommand('hearth.pickChatModel', () => d.pickModel('chat')),
    vscode.commands.registerCommand('hearth.pickModelFile', () => pickModelFile('completion')),
    vscode.commands.registerCommand('hearth.showLog', () => d.log.show(true)),
    vscode.commands.registerCommand('hearth.menu', menu),
  ];
}
