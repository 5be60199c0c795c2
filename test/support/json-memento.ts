// VS Code's global state for unit tests: values stored as JSON, as the real Memento keeps them.
import type { MementoLike } from '../../extension/models/header-memo.js';

export class JsonMemento implements MementoLike {
  data = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  update(key: string, value: unknown): Thenable<void> {
    this.data.set(key, JSON.stringify(value));
    return Promise.resolve();
  }
}
