// A problem found while validating or compiling a policy, with the path of the offending field.

export type ProblemReason = 'Invalid' | 'SecretMissing' | 'SecretInvalid' | 'FallThrough';

export interface Problem {
  /** Dotted path from the resource root: `spec.authentication.methods[0].apiKey.selector`. */
  readonly path: string;
  readonly message: string;
  readonly reason: ProblemReason;
  /** Warnings do not stop a policy from serving (a selected Secret without keys, say). */
  readonly severity: 'error' | 'warning';
}

export class ProblemList {
  readonly items: Problem[] = [];
  error(path: string, message: string, reason: ProblemReason = 'Invalid'): void {
    this.items.push({ path, message, reason, severity: 'error' });
  }
  warn(path: string, message: string, reason: ProblemReason = 'SecretInvalid'): void {
    this.items.push({ path, message, reason, severity: 'warning' });
  }
  get hasErrors(): boolean {
    return this.items.some((p) => p.severity === 'error');
  }
}

/** `/spec/a/0/b` (JSON pointer) to `spec.a[0].b`. */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^[0-9]+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function formatProblem(p: Problem): string {
  return `${p.path}: ${p.message}`;
}
