// The layout docs/architecture.md describes, held to the code: which folder of src/ may import which.
// A new import that breaks the direction fails here, naming the file.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Folder -> the folders it may import (besides itself). `.` is src/ itself. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  config: ['core'],
  telemetry: [],
  redis: ['core'],
  revocation: ['core', 'redis', 'telemetry'],
  authn: ['core', 'config', 'session', 'revocation', 'redis', 'telemetry'],
  session: ['core', 'config', 'revocation', 'redis'],
  authz: ['core', 'config'],
  policy: ['core', 'config', 'authn', 'session', 'authz'],
  sources: ['core', 'config', 'policy', 'telemetry'],
  transport: ['core'],
  args: ['core'],
  service: ['core', 'config', 'authn', 'session', 'policy', 'sources', 'transport', 'telemetry', 'revocation', 'redis', 'args'],
  commands: ['core', 'config', 'authn', 'session', 'policy', 'sources', 'revocation', 'redis', 'telemetry', 'transport', 'service', 'args'],
  '.': ['commands', 'args'],
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? (rel.split('/')[0] as string) : '.';
}

describe('source layout', () => {
  const edges: { from: string; to: string; file: string }[] = [];
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = normalize(join(dirname(file), m[1] as string));
      edges.push({ from: folderOf(file), to: folderOf(target), file: relative(SRC, file) });
    }
  }

  it('reads the imports of every source file', () => {
    assert.ok(edges.length > 300, `${edges.length} imports`);
  });

  it('every folder is in the table', () => {
    const folders = new Set(walk(SRC).map(folderOf));
    assert.deepEqual([...folders].filter((f) => ALLOWED[f] === undefined), []);
  });

  it('imports go only the ways the table allows (the core imports no other folder)', () => {
    const wrong = edges.filter((e) => e.from !== e.to && !(ALLOWED[e.from] ?? []).includes(e.to)).map((e) => `${e.file} imports ${e.to}/`);
    assert.deepEqual([...new Set(wrong)], []);
  });

  it('no source file imports node:http as an ES module (on Node 26 that loads undici; createRequire instead)', () => {
    const esm = walk(SRC).filter((file) => /^import\s+(?!type\b)[^;]*from\s+'(node:)?http'/m.test(readFileSync(file, 'utf8')));
    assert.deepEqual(esm.map((file) => relative(SRC, file)), []);
  });

  it('no two folders import each other', () => {
    const pairs = new Set(edges.filter((e) => e.from !== e.to).map((e) => `${e.from}>${e.to}`));
    const mutual = [...pairs].filter((p) => pairs.has(p.split('>').reverse().join('>')));
    assert.deepEqual(mutual, []);
  });
});
