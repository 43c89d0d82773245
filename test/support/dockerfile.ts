// Static reading of the Dockerfile and .dockerignore: no image is built here (no registry for base
// images), so the recipe's steps are checked as written and its stages reproduced outside Docker.
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface DockerInstruction {
  /** Upper-case instruction: FROM, RUN, COPY, ... */
  readonly instruction: string;
  /** The rest of the line, continuations joined, whitespace collapsed. */
  readonly args: string;
  /** `AS` name of the stage the instruction belongs to ('' before the first FROM). */
  readonly stage: string;
}

export function parseDockerfile(text: string): DockerInstruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending !== '') logical.push(pending);

  const out: DockerInstruction[] = [];
  let stage = '';
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (match === null) continue;
    const instruction = (match[1] as string).toUpperCase();
    const args = (match[2] as string).replace(/\s+/g, ' ').trim();
    if (instruction === 'FROM') stage = /\bAS\s+(\S+)$/i.exec(args)?.[1] ?? '';
    out.push({ instruction, args, stage });
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether Docker leaves `path` out of the build context: the last matching rule wins, `!` re-includes,
 * and a rule matching a parent directory matches everything below it.
 */
export function dockerignoreExcludes(rules: string, path: string): boolean {
  let excluded = false;
  const parents = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  for (const raw of rules.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    const re = globToRegExp(pattern);
    if (parents.some((p) => re.test(p))) excluded = !negated;
  }
  return excluded;
}

/**
 * The repository files `docker build .` would send: top-level entries are walked only when a rule
 * could keep something inside them, so node_modules and .git are never read.
 */
export async function buildContextFiles(root: string, rules: string): Promise<string[]> {
  const reincluded = rules
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/^\/+/, ''));
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const name = entry.name;
    if (entry.isDirectory()) {
      if (dockerignoreExcludes(rules, name) && !reincluded.some((r) => r === name || r.startsWith(`${name}/`))) continue;
      for (const file of await readdir(join(root, name), { recursive: true, withFileTypes: true })) {
        if (!file.isFile()) continue;
        const path = relative(root, join(file.parentPath, file.name));
        if (!dockerignoreExcludes(rules, path)) out.push(path);
      }
    } else if (entry.isFile() && !dockerignoreExcludes(rules, name)) {
      out.push(name);
    }
  }
  return out.sort();
}
