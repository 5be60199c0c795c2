// `hearth models [--dir DIR]... [--json]`: the GGUF models on disk (engine/models/discovery.ts): the
// Hugging Face cache, llama.cpp's cache, LM Studio, Ollama and the folders given. One line per
// model on stdout (or one JSON object with --json); files that could not be read go to stderr.
import { discoverModels, type FoundModel } from '../models/discovery.js';

export const MODELS_USAGE = 'models    [--dir DIR]... [--json]            (GGUF models on disk: Hugging Face cache, llama.cpp, LM Studio, Ollama)';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo = (): Io => ({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });

const size = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);

function line(m: FoundModel): string {
  const caps = `${m.fim ? 'fim' : '   '} ${m.chatTemplate ? 'chat' : '    '}`;
  const why = m.loadable ? '' : `  (cannot load: ${m.problem})`;
  return `${m.source.padEnd(9)} ${m.architecture.padEnd(8)} ${m.quant.padEnd(14)} ${size(m.sizeBytes).padStart(10)}  ${caps}  ${m.label}  ${m.path}${why}`;
}

export async function modelsCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const dirs: string[] = [];
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      io.out(`usage: hearth ${MODELS_USAGE}\n`);
      return 0;
    }
    if (a === '--json') json = true;
    else if (a === '--dir' && args[i + 1] !== undefined) dirs.push(args[++i]);
    else {
      io.err(`hearth: models: ${a === '--dir' ? '--dir needs a value' : `unexpected argument "${a}"`} (hearth models --help for usage)\n`);
      return 2;
    }
  }
  const { models, skipped } = await discoverModels({ extraDirs: dirs });
  if (json) {
    io.out(JSON.stringify({
      models: models.map((m) => ({
        path: m.path, source: m.source, label: m.label, hub: m.hub ?? null, size_bytes: m.sizeBytes, name: m.name ?? null, architecture: m.architecture,
        quant: m.quant, fim: m.fim, chat_template: m.chatTemplate, context_length: m.contextLength ?? null, loadable: m.loadable, problem: m.problem ?? null,
      })),
      skipped: skipped.map((s) => ({ path: s.path, source: s.source, reason: s.reason })),
    }) + '\n');
    return 0;
  }
  for (const m of models) io.out(`${line(m)}\n`);
  if (!models.length) io.out('no GGUF models found\n');
  for (const s of skipped) io.err(`hearth: models: skipped ${s.path}: ${s.reason}\n`);
  return 0;
}
