// A fixed inline completion provider, so the harness's ghost-text readers are tested against VS
// Code's real DOM without a model: after `x = ` it offers one line, after `def f():` two lines.
// It writes {"t":"fixture-ready"} to HEARTH_TEST_LOG once registered.
const vscode = require('vscode');
const { appendFileSync } = require('node:fs');

const COMPLETIONS = [['x = ', '41 + 1  # fixture'], ['def f():', '\n    a = 1\n    return a']];

exports.activate = (context) => {
  context.subscriptions.push(vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, {
    provideInlineCompletionItems(document, position) {
      const before = document.lineAt(position.line).text.slice(0, position.character);
      const hit = COMPLETIONS.find(([end]) => before.endsWith(end));
      return hit ? [new vscode.InlineCompletionItem(hit[1])] : [];
    },
  }));
  if (process.env.HEARTH_TEST_LOG) appendFileSync(process.env.HEARTH_TEST_LOG, JSON.stringify({ t: 'fixture-ready' }) + '\n');
};
