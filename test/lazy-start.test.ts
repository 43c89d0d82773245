// `npm start` builds only when the built tree is missing or older than its sources, so a built tree
// starts in about a second while a fresh clone (no dist/) and an edited source still get a build.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dirWith, ROOT } from './support/cli.js';

const SCRIPT = join(ROOT, 'scripts', 'build-if-stale.mjs');

/** What the script decides for `root`, without building: `stale` (exit 1) or `current` (exit 0). */
function decision(root: string): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [SCRIPT, '--dry-run', root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

/** A checkout with one source, its tsconfig and lockfile, all dated `sourceAt` (seconds since the epoch). */
function checkout(sourceAt: number): string {
  const root = dirWith({ 'tsconfig.json': '{}', 'package-lock.json': '{}' });
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'cli.ts'), 'export {};\n');
  for (const p of ['src/cli.ts', 'src', 'tsconfig.json', 'package-lock.json']) utimesSync(join(root, p), sourceAt, sourceAt);
  return root;
}

function build(root: string, at: number): void {
  mkdirSync(join(root, 'dist', 'src'), { recursive: true });
  writeFileSync(join(root, 'dist', 'src', 'cli.js'), 'export {};\n');
  utimesSync(join(root, 'dist', 'src', 'cli.js'), at, at);
}

describe('npm start builds only a stale tree', () => {
  it('a fresh clone without dist/ is built', () => {
    assert.deepEqual(decision(checkout(1_000_000)), { status: 1, stdout: 'stale\n' });
  });

  it('a tree built after its last source change starts without a build', () => {
    const root = checkout(1_000_000);
    build(root, 1_000_100);
    assert.deepEqual(decision(root), { status: 0, stdout: 'current\n' });
  });

  it('a source edited after the build, or a tsconfig changed, or a source deleted, makes it stale', () => {
    const edited = checkout(1_000_000);
    build(edited, 1_000_100);
    utimesSync(join(edited, 'src', 'cli.ts'), 1_000_200, 1_000_200);
    assert.deepEqual(decision(edited), { status: 1, stdout: 'stale\n' });

    const config = checkout(1_000_000);
    build(config, 1_000_100);
    utimesSync(join(config, 'tsconfig.json'), 1_000_200, 1_000_200);
    assert.deepEqual(decision(config), { status: 1, stdout: 'stale\n' });

    const deleted = checkout(1_000_000);
    build(deleted, 1_000_100);
    rmSync(join(deleted, 'src', 'cli.ts'));
    assert.deepEqual(decision(deleted), { status: 1, stdout: 'stale\n' });
  });
});
