// `hearth template`: the exact prompt text a chat request makes of a conversation (stdin: a JSON
// array of {role, content}), rendered with the GGUF's chat template or, for a file without one,
// the built-in template the inference process would use (said once on stderr).
import { readGGUF } from '../gguf/gguf.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { modelChatTemplate, renderChat, specialTokens, type ChatTurn } from '../prompt/chat-template.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** stdin as a conversation; anything else is a usage error made by `usage`. */
function conversation(text: string, usage: (message: string) => Error): ChatTurn[] {
  const want = 'stdin must be a JSON array of {"role": string, "content": string}';
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (e) {
    throw usage(`${want}: ${(e as Error).message}`);
  }
  if (!Array.isArray(input) || input.length === 0) throw usage(`${want}, with at least one message`);
  return input.map((m: unknown, i) => {
    const { role, content } = (m ?? {}) as Record<string, unknown>;
    if (typeof role !== 'string' || typeof content !== 'string') throw usage(`${want}: message ${i} is ${JSON.stringify(m)?.slice(0, 80)}`);
    return { role, content };
  });
}

export async function runTemplate(model: string, json: boolean, usage: (message: string) => Error): Promise<void> {
  const g = readGGUF(model);
  const messages = conversation(await readStdin(), usage);
  const { template, fallback } = modelChatTemplate(g.metadata, model);
  if (fallback) process.stderr.write(`hearth: ${model} has no tokenizer.chat_template; using the built-in ${fallback} template\n`);
  const prompt = renderChat(template, messages, { ...specialTokens(Tokenizer.fromGGUF(g)), addGenerationPrompt: true });
  process.stdout.write(json ? JSON.stringify({ prompt }) + '\n' : prompt);
}
