// Hearth's settings, read through a getter so this module needs no VS Code (tested under Node).
// A value of the wrong type or out of range falls back to its default and is reported once, naming
// the setting: a typo in settings.json never breaks completions silently.

export interface HearthConfig {
  modelPath: string;
  /** A second model for chat; empty: chat uses modelPath's. */
  chatModelPath: string;
  /** Folders searched for GGUF files besides the standard places. */
  modelDirs: string[];
  /** Minutes without a completion or chat before the models are unloaded; 0: never. */
  idleUnloadMinutes: number;
  nodePath: string;
  contextSize: number;
  maxTokens: number;
  maxLines: number;
  debounceMs: number;
  timeBudgetMs: number;
  /** Most tokens a chat answer (or an explanation) generates. */
  chatMaxTokens: number;
  /** Speculative decoding with drafts from the prompt itself (same suggestions, fewer model steps); off: plain decoding. */
  speculative: boolean;
  /** Language id -> on/off; "*" is the default for languages not listed. */
  enable: Record<string, boolean>;
}

export const DEFAULTS: HearthConfig = {
  modelPath: '',
  chatModelPath: '',
  modelDirs: [],
  // Long enough that a meeting or a code review does not cost a reload (seconds) on return; short
  // enough that GPU memory comes back to games and other tools once the editor sits unused.
  idleUnloadMinutes: 30,
  nodePath: '',
  contextSize: 8192,
  maxTokens: 128,
  maxLines: 10,
  debounceMs: 40,
  timeBudgetMs: 500,
  chatMaxTokens: 1024,
  speculative: true,
  enable: { '*': true },
};

export const RANGES = {
  idleUnloadMinutes: [0, 10080],
  contextSize: [256, 131072],
  maxTokens: [1, 4096],
  maxLines: [1, 200],
  debounceMs: [0, 5000],
  timeBudgetMs: [0, 60000],
  chatMaxTokens: [1, 16384],
} as const;

/** Setting keys under "hearth." for each field. */
export const KEYS: Record<keyof HearthConfig, string> = {
  modelPath: 'modelPath',
  chatModelPath: 'chatModelPath',
  modelDirs: 'modelDirs',
  idleUnloadMinutes: 'idleUnloadMinutes',
  nodePath: 'nodePath',
  contextSize: 'contextSize',
  maxTokens: 'completion.maxTokens',
  maxLines: 'completion.maxLines',
  debounceMs: 'completion.debounceMs',
  timeBudgetMs: 'completion.timeBudgetMs',
  chatMaxTokens: 'chat.maxTokens',
  speculative: 'completion.speculative',
  enable: 'enable',
};

/** Reads every setting; `problems` names each value that was refused and why. */
export function readConfig(get: (key: string) => unknown): { config: HearthConfig; problems: string[] } {
  const problems: string[] = [];
  const str = (k: 'modelPath' | 'chatModelPath' | 'nodePath'): string => {
    const v = get(KEYS[k]);
    if (v === undefined || v === null) return DEFAULTS[k];
    if (typeof v !== 'string') {
      problems.push(`hearth.${KEYS[k]} must be a string, got ${JSON.stringify(v)}`);
      return DEFAULTS[k];
    }
    return v.trim();
  };
  const int = (k: keyof typeof RANGES): number => {
    const v = get(KEYS[k]);
    if (v === undefined || v === null) return DEFAULTS[k];
    const [min, max] = RANGES[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`hearth.${KEYS[k]} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}; using ${DEFAULTS[k]}`);
      return DEFAULTS[k];
    }
    return v;
  };
  const dirs = (): string[] => {
    const v = get(KEYS.modelDirs);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problems.push(`hearth.modelDirs must be a list of folders, got ${JSON.stringify(v)}`);
      return [];
    }
    const out: string[] = [];
    for (const d of v) {
      if (typeof d === 'string' && d.trim()) out.push(d.trim());
      else problems.push(`hearth.modelDirs entries must be folder paths, got ${JSON.stringify(d)}`);
    }
    return out;
  };
  const bool = (k: 'speculative'): boolean => {
    const v = get(KEYS[k]);
    if (v === undefined || v === null) return DEFAULTS[k];
    if (typeof v !== 'boolean') {
      problems.push(`hearth.${KEYS[k]} must be true or false, got ${JSON.stringify(v)}; using ${DEFAULTS[k]}`);
      return DEFAULTS[k];
    }
    return v;
  };
  const enable = (): Record<string, boolean> => {
    const v = get(KEYS.enable);
    if (v === undefined || v === null) return { ...DEFAULTS.enable };
    if (typeof v !== 'object' || Array.isArray(v)) {
      problems.push(`hearth.enable must be an object such as {"*": true, "markdown": false}, got ${JSON.stringify(v)}`);
      return { ...DEFAULTS.enable };
    }
    const out: Record<string, boolean> = {};
    for (const [lang, on] of Object.entries(v as Record<string, unknown>)) {
      if (typeof on === 'boolean') out[lang] = on;
      else problems.push(`hearth.enable["${lang}"] must be true or false, got ${JSON.stringify(on)}`);
    }
    return out;
  };
  return {
    config: {
      modelPath: str('modelPath'), chatModelPath: str('chatModelPath'), modelDirs: dirs(), idleUnloadMinutes: int('idleUnloadMinutes'),
      nodePath: str('nodePath'), contextSize: int('contextSize'), maxTokens: int('maxTokens'),
      maxLines: int('maxLines'), debounceMs: int('debounceMs'), timeBudgetMs: int('timeBudgetMs'), chatMaxTokens: int('chatMaxTokens'), speculative: bool('speculative'),
      enable: enable(),
    },
    problems,
  };
}

/** Whether Hearth is on at all ("*" false turns it off wherever a language does not say otherwise). */
export function globallyEnabled(c: HearthConfig): boolean {
  return c.enable['*'] !== false;
}

/** Whether completions run for `languageId`: its own entry, else "*", else on. */
export function enabledFor(c: HearthConfig, languageId: string): boolean {
  return c.enable[languageId] ?? c.enable['*'] ?? true;
}
