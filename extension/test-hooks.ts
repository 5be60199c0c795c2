// End-to-end tests watch the extension through a JSON-lines file: with HEARTH_TEST_HOOKS=1 in the
// extension host, each event is appended to HEARTH_TEST_LOG. Writing is all it does: behaviour is
// the same with the hook on or off.
import { appendFileSync } from 'node:fs';

export type TestEvent =
  | { t: 'state'; state: string }
  | { t: 'request'; id: string; prefixTokens: number; prefillTokens: number; reusedTokens: number; ms: number; reason: string; context: string[] }
  | { t: 'context'; uri: string; name: string; why: string }
  | { t: 'shown'; text: string; latencyMs: number; cached: boolean }
  | { t: 'serverPid'; pid: number };

export class TestLog {
  private readonly path: string | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.path = env.HEARTH_TEST_HOOKS === '1' && env.HEARTH_TEST_LOG ? env.HEARTH_TEST_LOG : undefined;
  }

  get on(): boolean {
    return this.path !== undefined;
  }

  write(e: TestEvent): void {
    if (!this.path) return;
    try {
      appendFileSync(this.path, JSON.stringify({ ...e, at: Date.now() }) + '\n');
    } catch {
      // A test harness that removed its log must not break the editor.
    }
  }
}
