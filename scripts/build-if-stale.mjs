#!/usr/bin/env node
// `npm start`'s first step: build only when the built entry point is missing or older than a source
// of it, so a built tree starts in a second instead of waiting for a full type check. A fresh clone
// has no dist/ and builds.
//   node scripts/build-if-stale.mjs [--dry-run] [root]   (--dry-run prints stale/current, exits 1/0)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const root = resolve(args.find((a) => a !== '--dry-run') ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

/** Newest modification time (ms) of the files under `path` (a file or a directory), 0 when absent. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs; // a deleted source changes its directory's time
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const built = newest(join(root, 'dist', 'src', 'cli.js'));
const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'tsconfig.json')), newest(join(root, 'package-lock.json')));
const stale = built === 0 || sources > built;
if (dryRun) {
  process.stdout.write(stale ? 'stale\n' : 'current\n');
  process.exit(stale ? 1 : 0);
}
if (stale) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
