// The README's path for a newcomer, run as written: `npm start` (its serve half, from the built tree,
// on loopback ports) and then every `gatehouse check` line the README shows, whose output must be
// exactly what the README prints: an allowed and a denied request, in under a minute.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, ROOT, run, runAsync } from './support/cli.js';
import { eventually } from './support/eventually.js';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };

interface Shown {
  readonly args: string[];
  readonly output: string;
}

/** Each `$ node dist/src/cli.js check ...` line of the README's sh blocks, with the lines it shows after it. */
function shownChecks(): Shown[] {
  const shown: Shown[] = [];
  for (const block of README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const lines = (block[1] ?? '').split('\n');
    lines.forEach((line, i) => {
      const m = /^\$ node dist\/src\/cli\.js (check .*)$/.exec(line);
      if (m === null) return;
      const end = lines.findIndex((l, j) => j > i && (l.startsWith('$ ') || l === ''));
      shown.push({ args: shellWords(m[1] ?? ''), output: lines.slice(i + 1, end === -1 ? undefined : end).map((l) => `${l}\n`).join('') });
    });
  }
  return shown;
}

/** Words as sh splits them, for the quoting the README uses ('...' and plain words). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

describe('the README path: npm start, then the documented gatehouse check', () => {
  it('README states the Node.js version package.json requires', () => {
    const version = /^>=(\d+\.\d+)$/.exec(PACKAGE.engines.node)?.[1];
    assert.ok(version !== undefined, PACKAGE.engines.node);
    assert.ok(README.includes(`Node.js ${version} or newer`), `README should say Node.js ${version} or newer`);
  });

  it('README lists every command gatehouse has', () => {
    const help = run(['help']).stdout;
    const commands = [...help.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1] ?? '').filter((c) => c !== 'help');
    assert.ok(commands.length >= 5, help);
    assert.deepEqual(commands.filter((c) => !README.includes(`gatehouse ${c} `)), []);
  });

  it('serves the examples and answers the README check lines exactly as shown, allowed and denied, within a minute', { timeout: 60_000 }, async (t) => {
    const started = Date.now();
    // `npm start` is the build (skipped when dist/ is current), then this serve command; the built tree is what the test runs.
    const [build, serveCommand] = (PACKAGE.scripts['start'] ?? '').split(' && ');
    assert.equal(build, 'node scripts/build-if-stale.mjs');
    // node's serving flags, as the image's entrypoint gives them (test/packaging.test.ts).
    assert.equal(serveCommand, `node ${SERVING_NODE_FLAGS.join(' ')} dist/src/cli.js serve --policies deploy/examples`);
    const serveArgs = (serveCommand ?? '').split(' ').slice(2 + SERVING_NODE_FLAGS.length);
    const loopback = ['--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];
    const child = spawn(process.execPath, [...SERVING_NODE_FLAGS, CLI, ...serveArgs, ...loopback], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes('"msg":"gatehouse started"'), 40_000, 'gatehouse started');
    const grpcPort = (JSON.parse(out.split('\n').find((l) => l.includes('"msg":"gatehouse started"')) ?? '{}') as { grpcPort: number }).grpcPort;

    const shown = shownChecks();
    const decisions = shown.map((s) => /^decision +(\w+)/.exec(s.output)?.[1]);
    assert.deepEqual([...new Set(decisions)].sort(), ['allow', 'deny'], 'the README shows an allowed and a denied request');
    for (const s of shown) {
      const r = await runAsync([...s.args, '--grpc-address', `127.0.0.1:${grpcPort}`], {}, ROOT);
      const decision = /^decision +(\w+)/.exec(s.output)?.[1];
      assert.deepEqual(r, { status: decision === 'allow' ? 0 : 1, stdout: s.output, stderr: '' }, `README: $ node dist/src/cli.js ${s.args.join(' ')}`);
    }
    assert.ok(Date.now() - started < 60_000, `${Date.now() - started} ms`);
  });
});
