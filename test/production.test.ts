// What the container image runs: the Dockerfile's runtime stage reproduced (production dependencies
// only, the built output), started on the current Node LTS as the image does, printing its version,
// answering a real Check, draining on SIGTERM without failing an in-flight Check.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEnvoyClient } from './support/envoy-client.js';
import { eventually } from './support/gatehouse.js';
import { NODE_LTS_MAJOR, nodeLts } from './support/node-lts.js';
import { installProduction } from './support/production-install.js';
import { repoRoot } from './support/tool-cache.js';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';

interface Running {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly exited: Promise<number | null>;
}

async function serve(node: string, dir: string): Promise<Running> {
  const child = spawn(
    node,
    // As the image's entrypoint runs it (test/packaging.test.ts holds the two alike).
    [...SERVING_NODE_FLAGS, join(dir, 'dist', 'src', 'cli.js'), 'serve', '--policies', join(repoRoot, 'deploy', 'examples'), '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--shutdown-grace', '5s', '--shutdown-delay', '1s'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await eventually(() => out.includes('gatehouse started') || child.exitCode !== null, 20_000, 'startup');
  assert.equal(child.exitCode, null, `gatehouse exited: ${err}`);
  const line = JSON.parse(out.split('\n').find((l) => l.includes('gatehouse started')) ?? '{}') as { grpcPort: number; adminPort: number };
  return { child, grpcPort: line.grpcPort, adminPort: line.adminPort, exited };
}

describe('production install (the image runtime stage)', () => {
  let dir: string;
  let lts: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-prod-'));
    await installProduction(dir);
    lts = await nodeLts();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gatehouse --version prints the version of the installed package, from any working directory', () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = spawnSync(lts, [join(dir, 'dist', 'src', 'cli.js'), '--version'], { cwd: tmpdir(), encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it(`starts on Node ${NODE_LTS_MAJOR} with production dependencies only and answers a Check as the examples say`, async (t) => {
    const s = await serve(lts, dir);
    t.after(() => s.child.kill('SIGKILL'));
    assert.equal((await fetch(`http://127.0.0.1:${s.adminPort}/readyz`)).status, 200);
    const envoy = createEnvoyClient(`127.0.0.1:${s.grpcPort}`);
    t.after(() => envoy.close());
    const allowed = await envoy.check({ host: 'api.shop.example.com', path: '/orders', headers: { apikey: 'acme-demo-key-7c1f0e' } });
    assert.equal(allowed.kind, 'ok');
    if (allowed.kind === 'ok') {
      assert.deepEqual(allowed.ok.headers.slice(0, 2), [
        { key: 'x-consumer-id', value: 'acme', append: false },
        { key: 'x-consumer-username', value: 'acme-corp', append: false },
      ]);
    }
    const denied = await envoy.check({ host: 'api.shop.example.com', path: '/orders', headers: { apikey: 'wrong' } });
    assert.equal(denied.kind, 'denied');
    if (denied.kind === 'denied') assert.equal(denied.denied.status, 401);
  });

  it('on SIGTERM readiness goes false, Checks in flight are answered, and the process exits 0', async (t) => {
    const s = await serve(lts, dir);
    t.after(() => s.child.kill('SIGKILL'));
    const envoy = createEnvoyClient(`127.0.0.1:${s.grpcPort}`);
    t.after(() => envoy.close());
    // A stream of Checks across the signal: none may fail while the server drains.
    let stop = false;
    let answered = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          const r = await envoy.check({ host: 'api.shop.example.com', path: '/', headers: { apikey: 'acme-demo-key-7c1f0e' } });
          if (r.kind !== 'ok') failures.push(JSON.stringify(r));
          answered++;
        } catch (e) {
          // After the listener closes, new calls are refused: that is the end of the stream, not a failure
          // of an accepted Check.
          if (!/UNAVAILABLE|ECONNREFUSED|No connection established|14 /.test(String(e))) failures.push(String(e));
          break;
        }
      }
    })();
    await eventually(() => answered >= 20, 10_000, 'first Checks');
    s.child.kill('SIGTERM');
    await eventually(async () => (await fetch(`http://127.0.0.1:${s.adminPort}/readyz`)).status === 503, 900, 'not ready after SIGTERM');
    const during = answered;
    await eventually(() => answered > during + 5, 900, 'Checks answered while draining');
    assert.equal(await s.exited, 0);
    stop = true;
    await loop;
    assert.deepEqual(failures, []);
    assert.ok(answered >= 20);
  });
});
