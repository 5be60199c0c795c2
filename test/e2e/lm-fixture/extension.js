// Another extension using Hearth's model through VS Code's language model API, as any extension
// would: vscode.lm.selectChatModels({ vendor: 'hearth' }), countTokens, sendRequest with streaming
// and cancellation. Its command writes what it saw to HEARTH_TEST_LOG, one JSON object a line.
const vscode = require('vscode');
const { appendFileSync } = require('node:fs');

const write = (e) => appendFileSync(process.env.HEARTH_TEST_LOG, JSON.stringify(e) + '\n');
const COUNTED = 'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n';

async function probe() {
  const models = await vscode.lm.selectChatModels({ vendor: 'hearth' });
  write({ t: 'lm-models', models: models.map((m) => ({ id: m.id, name: m.name, vendor: m.vendor, family: m.family, version: m.version, maxInputTokens: m.maxInputTokens })) });
  const m = models[0];
  if (!m) return;
  write({ t: 'lm-count', text: COUNTED, tokens: await m.countTokens(COUNTED), message: await m.countTokens(vscode.LanguageModelChatMessage.User(COUNTED)) });

  // A short answer, streamed to its end.
  const short = await m.sendRequest([vscode.LanguageModelChatMessage.User('Say something.')], { modelOptions: { maxTokens: 24 } });
  const fragments = [];
  for await (const f of short.text) fragments.push(f);
  write({ t: 'lm-answer', fragments });

  // A long one, cancelled after its third fragment: the stream ends soon after.
  const cts = new vscode.CancellationTokenSource();
  const long = await m.sendRequest([vscode.LanguageModelChatMessage.User('Tell a long story.')], {}, cts.token);
  const before = [];
  let after = 0, cancelledAt = 0, error;
  try {
    for await (const f of long.text) {
      if (cancelledAt) after++;
      else before.push(f);
      if (before.length === 3 && !cancelledAt) {
        cancelledAt = Date.now();
        cts.cancel();
      }
    }
  } catch (e) {
    error = e.message;
  }
  write({ t: 'lm-cancelled', before: before.length, after, endedMs: Date.now() - cancelledAt, error });

  // What the local model cannot take is refused, saying what.
  try {
    const r = await m.sendRequest([vscode.LanguageModelChatMessage.User('hi'), vscode.LanguageModelChatMessage.Assistant([new vscode.LanguageModelToolCallPart('c1', 'readFile', {})])]);
    for await (const f of r.text) void f;
    write({ t: 'lm-refused', message: null });
  } catch (e) {
    write({ t: 'lm-refused', message: e.message });
  }
}

exports.activate = (context) => {
  context.subscriptions.push(vscode.commands.registerCommand('hearthTest.lmProbe', () => probe().catch((e) => write({ t: 'lm-error', message: e.stack || e.message }))));
  write({ t: 'lm-fixture-ready' });
};
