// `gatehouse serve` runs without V8's Sparkplug and Maglev tiers: seen in V8's own traces of a serving
// process, which compiles nothing with either while it answers forward-auth requests when node is
// given the image's flags (SERVING_NODE_FLAGS: test/packaging.test.ts and test/docs-readme.test.ts
// hold the image and `npm start` to them); the same process told `--sparkplug --maglev` (the
// operator's choice wins) does. Without any flag, the code turns Maglev off itself (src/commands/jit-tiers.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { CLI, ROOT } from './support/cli.js';
import { eventually } from './support/eventually.js';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';

const BASELINE = /^\[Baseline batch compilation\] Compiling/gm;
const MAGLEV = /\(target MAGLEV\)/g;

function ask(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/auth/nginx', headers: { 'x-original-method': 'GET', 'x-original-uri': '/orders', 'x-forwarded-host': 'api.shop.example.com', apikey: 'no-such-key' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What V8 compiled with either tier while the server answered 600 requests, after it had started. */
async function tiersWhileServing(nodeFlags: readonly string[]): Promise<{ baseline: number; maglev: number; statuses: number[] }> {
  const loopback = ['--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];
  const child = spawn(process.execPath, ['--trace-baseline-batch-compilation', '--trace-opt', ...nodeFlags, CLI, 'serve', '--policies', 'deploy/examples', ...loopback], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes('"msg":"gatehouse started"'), 40_000, 'gatehouse started');
    const started = out.indexOf('"msg":"gatehouse started"');
    const line = out.slice(out.lastIndexOf('\n', started) + 1).split('\n')[0] ?? '{}';
    const port = (JSON.parse(line) as { httpPort: number }).httpPort;
    const statuses = new Set<number>();
    for (let i = 0; i < 600; i++) statuses.add(await ask(port));
    // V8 compiles a batch on the main thread; a concurrent TurboFan or Maglev job reports when done.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const serving = out.slice(started);
    return { baseline: serving.match(BASELINE)?.length ?? 0, maglev: serving.match(MAGLEV)?.length ?? 0, statuses: [...statuses] };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('serve runs without the Sparkplug and Maglev tiers', { timeout: 120_000 }, () => {
  const major = Number(process.versions.node.split('.')[0]);

  it('with the flags the image gives node, it compiles nothing with either while serving; with --sparkplug --maglev it does', async () => {
    const served = await tiersWhileServing(SERVING_NODE_FLAGS);
    const chosen = await tiersWhileServing(['--sparkplug', '--maglev']);
    // Every request was answered (401: no consumer holds the key) in both.
    assert.deepEqual([served.statuses, chosen.statuses], [[401], [401]]);
    assert.deepEqual({ baseline: served.baseline, maglev: served.maglev }, { baseline: 0, maglev: 0 });
    assert.ok(chosen.baseline > 0, `Sparkplug compiled ${chosen.baseline} batches with --sparkplug`);
    // Node 20's V8 has Maglev off by default and may not pick it for these functions; later ones must.
    if (major >= 22) assert.ok(chosen.maglev > 0, `Maglev compiled ${chosen.maglev} functions with --maglev`);
  });

  it('without them, the code turns Maglev off itself (node 22 and later have it on)', async () => {
    const served = await tiersWhileServing([]);
    assert.deepEqual([served.statuses, served.maglev], [[401], 0]);
  });
});
