// What `npm run demo` sets up, as data: its arguments, the sample workspace, the editor settings
// (merged into what is there, so choices made in the demo survive a restart), code-server's
// arguments (bound to 127.0.0.1 only, no password: nothing else on the network can reach it), and
// the terminal line of a download's progress. No I/O here: main.ts does it; this is tested.

export interface DemoArgs {
  /** A GGUF file to complete with; else the default model (downloaded on first run). */
  model?: string;
  /** 0: any free port. */
  port: number;
  help: boolean;
}

export const DEMO_USAGE = `usage: npm run demo -- [--model FILE.gguf] [--port N]
  Starts VS Code (code-server) in the browser with Hearth installed on a sample workspace, and prints
  the URL to open. Without --model it uses the default model for this computer (Qwen2.5-Coder, from
  the Hugging Face Hub into its shared cache, downloaded once), or the tiny demonstration model when
  nothing can be downloaded. --port: default 8080, 0 for any free port. Ctrl-C stops it.`;

export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const out: DemoArgs = { port: 8080, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--model') out.model = value();
    else if (a === '--port') {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n > 65535) throw new Error(`--port ${v} must be a port number (0-65535)`);
      out.port = n;
    } else throw new Error(`unknown argument "${a}"`);
  }
  return out;
}

/** The sample workspace: a few files to type in. */
export const SAMPLE_FILES: Record<string, string> = {
  'README.md': `# Hearth demo

Open \`fib.py\` or \`shapes.ts\`, put the cursor at the end and type: grey ghost text is Hearth's
suggestion, computed by the model on this machine. **Tab** accepts it, **Ctrl+Right** accepts a
word, **Shift+Tab** a line, **Alt+]** shows another suggestion, **Escape** dismisses it.

The status bar item on the right ("Hearth") shows the model and its state; click it for the menu
(**Completion Model…** lists the models on this computer and downloads others). The chat is in the
Hearth view of the activity bar.
`,
  'fib.py': `"""A few functions to try Hearth on: type below the last line."""


def fibonacci(n: int) -> int:
    """The n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def is_prime(n: int) -> bool:
`,
  'shapes.ts': `// Type inside the class or below it: Hearth completes from what the file already says.
export interface Shape {
  area(): number;
  perimeter(): number;
}

export class Circle implements Shape {
  constructor(readonly radius: number) {}

  area(): number {
    return Math.PI * this.radius ** 2;
  }

`,
};

/** The editor settings, over what the settings file already has (the user's choices in the demo). */
export function demoSettings(existing: Record<string, unknown>, model: string, modelFromArgs: boolean): Record<string, unknown> {
  const s: Record<string, unknown> = {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'workbench.tips.enabled': false,
    // The workspace lives inside this repository: no offer to open it.
    'git.openRepositoryInParentFolders': 'never',
    // VS Code's own AI chat panel stays closed: Hearth's chat is its own view.
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...existing,
  };
  // --model always wins; otherwise a model picked in the demo before stays.
  if (modelFromArgs || typeof s['hearth.modelPath'] !== 'string' || !s['hearth.modelPath']) s['hearth.modelPath'] = model;
  return s;
}

export interface CodeServerPaths { node: string; entry: string; config: string; userData: string; extensions: string; workspace: string }

/** code-server's command line: on 127.0.0.1 only, no password (the address is reachable from this machine only). */
export function codeServerArgs(p: CodeServerPaths, port: number): string[] {
  return [
    p.entry, '--config', p.config, '--user-data-dir', p.userData, '--extensions-dir', p.extensions,
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', p.workspace,
  ];
}

/** The address code-server says it listens on, from one line of its output. */
export function listeningUrl(line: string): string | undefined {
  return /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
}

/** A download's progress as one terminal line: a bar, the percent, and the message (bytes, speed, time left). */
export function progressLine(percent: number, message: string, width = 30): string {
  const p = Math.max(0, Math.min(100, Math.floor(percent)));
  const full = Math.round((p / 100) * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(p).padStart(3)}% ${message}`;
}
