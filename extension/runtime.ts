// Which Node runs the inference process. Dawn's mapped GPU buffers are external ArrayBuffers, which
// Electron's memory cage refuses (dawn-gpu/node-webgpu#5), so VS Code desktop's own runtime cannot
// be used. In order: hearth.nodePath; the extension host's runtime when it is real Node (code-server,
// remote hosts); the Node binary shipped in the platform VSIX; `node` >= 20 on PATH.
import { execFile } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const MIN_NODE = 20;

export interface Runtime {
  path: string;
  source: 'hearth.nodePath' | 'extension host' | 'bundled' | 'PATH';
  version: string;
}

export interface RuntimeOptions {
  nodePath: string;
  /** The extension host's process.execPath and process.versions. */
  execPath: string;
  versions: NodeJS.ProcessVersions;
  /** Where the VSIX keeps its Node binary (dist/node). */
  bundledDir: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
}

export class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export const INSTALL_HINT = `install Node.js ${MIN_NODE} or newer (nodejs.org or your package manager) so that \`node\` is on PATH, or set hearth.nodePath to a Node binary`;

const major = (v: string) => Number(/^v?(\d+)/.exec(v)?.[1] ?? 0);

/** Runs `path` to ask its version; rejects with what is wrong with it. */
export function checkNode(path: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    // ELECTRON_RUN_AS_NODE makes an Electron binary answer as Node, so it can say it is Electron.
    execFile(path, ['-e', 'process.stdout.write(JSON.stringify({ v: process.version, e: process.versions.electron ?? null }))'],
      { env: { ...env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 10_000, windowsHide: true }, (err, stdout) => {
        if (err) return reject(new RuntimeError(`${path} did not run: ${err.message.split('\n')[0]}`));
        let r: { v: string; e: string | null };
        try {
          r = JSON.parse(stdout);
        } catch {
          return reject(new RuntimeError(`${path} is not Node.js (it printed ${JSON.stringify(stdout.slice(0, 80))})`));
        }
        if (r.e) return reject(new RuntimeError(`${path} is Electron ${r.e}, whose memory cage refuses the GPU's mapped buffers: it needs real Node.js`));
        if (major(r.v) < MIN_NODE) return reject(new RuntimeError(`${path} is Node.js ${r.v}; Hearth needs ${MIN_NODE} or newer`));
        resolve(r.v);
      });
  });
}

function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const names = platform === 'win32' ? ['node.exe'] : ['node'];
  const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : delimiter).filter(Boolean);
  return dirs.flatMap((d) => names.map((n) => join(d, n))).filter(executable);
}

export async function resolveRuntime(o: RuntimeOptions): Promise<Runtime> {
  if (o.nodePath) {
    if (!existsSync(o.nodePath)) throw new RuntimeError(`hearth.nodePath is ${o.nodePath}, which does not exist: ${INSTALL_HINT}`);
    try {
      return { path: o.nodePath, source: 'hearth.nodePath', version: await checkNode(o.nodePath, o.env) };
    } catch (e) {
      throw new RuntimeError(`hearth.nodePath: ${(e as Error).message}`);
    }
  }
  if (!o.versions.electron && major(o.versions.node) >= MIN_NODE) return { path: o.execPath, source: 'extension host', version: `v${o.versions.node}` };
  const tried: string[] = [];
  const bundled = join(o.bundledDir, o.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(bundled)) {
    // A zip may drop the executable bit; the extension's own folder is ours to fix.
    if (o.platform !== 'win32' && !executable(bundled)) {
      try {
        chmodSync(bundled, 0o755);
      } catch (e) {
        tried.push(`${bundled}: ${(e as Error).message}`);
      }
    }
    try {
      return { path: bundled, source: 'bundled', version: await checkNode(bundled, o.env) };
    } catch (e) {
      tried.push((e as Error).message);
    }
  }
  for (const p of findOnPath(o.env, o.platform)) {
    try {
      return { path: p, source: 'PATH', version: await checkNode(p, o.env) };
    } catch (e) {
      tried.push((e as Error).message);
    }
  }
  const host = o.versions.electron ? `VS Code runs extensions on Electron ${o.versions.electron}, which cannot read GPU buffers back` : `the extension host is Node.js v${o.versions.node}`;
  throw new RuntimeError(`no Node.js runtime for the inference process (${host}${tried.length ? `; tried: ${tried.join('; ')}` : ''}): ${INSTALL_HINT}`);
}
