/** Config problems, collected all at once and reported with their paths. */

export interface ConfigProblem {
  /** where in the file: `lines[1].machines[0].counters.good`; empty for the file as a whole */
  readonly path: string;
  readonly message: string;
  /** what to do about it */
  readonly hint?: string;
  /** 1-based line in the file, when known */
  readonly line?: number;
}

export class ConfigError extends Error {
  readonly code: 'GL_ERR_CONFIG' | 'GL_ERR_CONFIG_READ' | 'GL_ERR_CONFIG_SYNTAX';
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;

  constructor(code: ConfigError['code'], problems: readonly ConfigProblem[], file?: string) {
    const head =
      code === 'GL_ERR_CONFIG_READ'
        ? 'cannot read the config file'
        : code === 'GL_ERR_CONFIG_SYNTAX'
          ? 'the config file is not valid YAML/JSON'
          : `the config has ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super(`${code}: ${head}${file ? ` (${file})` : ''}\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'ConfigError';
    this.code = code;
    this.problems = problems;
    this.file = file;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.path === '' ? '(file)' : p.path;
  const line = p.line === undefined ? '' : ` (line ${p.line})`;
  return `  ✗ ${where}${line}: ${p.message}${p.hint ? `\n      → ${p.hint}` : ''}`;
}

/** `['lines', 1, 'machines', 0, 'counters', 'good']` → `lines[1].machines[0].counters.good` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
