// `gatehouse serve --kubernetes` end to end: started as main.ts starts it, reading the fake API server
// through the real client, answering Checks built as Envoy builds them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGatehouse, type Gatehouse } from '../src/service/main.js';
import { loadSettings } from '../src/service/settings.js';
import { createLogger } from '../src/telemetry/log.js';
import { createEnvoyClient, createHealthClient, deniedOf, okOf, ServingStatus, type EnvoyClient, type HealthClient } from './support/envoy-client.js';
import { eventually } from './support/eventually.js';
import { FakeApiServer } from './support/fake-apiserver/index.js';
import { keyPolicy, keySecret } from './support/fixtures.js';
import { readyOf, withKeys, withSpec } from './support/kubernetes-kit.js';

const HOST = 'api.example.com';

describe('gatehouse serve --kubernetes', { timeout: 60_000 }, () => {
  const server = new FakeApiServer();
  const logs: string[] = [];
  let gatehouse: Gatehouse;
  let envoy: EnvoyClient;
  let health: HealthClient;
  let admin: string;

  const check = async (key?: string): Promise<number> => {
    const res = await envoy.check({ host: HOST, path: '/orders', headers: key === undefined ? {} : { apikey: key } });
    return res.kind === 'ok' ? 200 : (deniedOf(res).status ?? 403);
  };

  before(async () => {
    await server.start();
    server.create(keyPolicy('shop', 'api', HOST));
    server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
    server.create(keySecret('shop', 'globex', 'globex-key-1', 'globex'));
    const kubeConfig = server.kubeConfig();
    await server.pause();
    const { settings } = loadSettings(
      ['--kubernetes', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--shutdown-delay', '0s', '--shutdown-grace', '1s'],
      {},
    );
    gatehouse = await startGatehouse(settings, { kubeConfig, logger: createLogger('debug', (line) => void logs.push(line)) });
    envoy = await createEnvoyClient(`127.0.0.1:${gatehouse.grpcPort}`);
    health = createHealthClient(`127.0.0.1:${gatehouse.grpcPort}`);
    admin = `http://127.0.0.1:${gatehouse.adminPort}`;
  });

  after(async () => {
    envoy?.close();
    health?.close();
    await gatehouse?.stop();
    await server.stop();
  });

  it('is not ready and denies Checks with 503 not_ready until policies and Secrets are listed', async () => {
    const ready = await fetch(`${admin}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(await ready.text(), 'not ready: policies not loaded\n');
    assert.equal(await health.check(''), ServingStatus.NOT_SERVING);
    const denied = deniedOf(await envoy.check({ host: HOST, path: '/orders', headers: { apikey: 'acme-key-1' } }));
    assert.equal(denied.status, 503);
    assert.deepEqual(JSON.parse(denied.body), { code: 'not_ready', message: 'Service unavailable' });
    // The gauge is refreshed once a second: poll /metrics until it counts the outage.
    let metrics = '';
    const downSeconds = (): number => Number(/^gatehouse_kubernetes_watch_down_seconds\{resource="authpolicies"\} ([0-9.e+-]+)$/m.exec(metrics)?.[1] ?? 0);
    await eventually(async () => {
      metrics = await (await fetch(`${admin}/metrics`)).text();
      return downSeconds() > 0;
    }, 5000, 'the watch-down gauge above 0');
    assert.match(metrics, /^gatehouse_source_synced\{source="kubernetes"\} 0$/m);
  });

  it('becomes ready once the API server answers, and authenticates keys from Secrets', async () => {
    await server.resume();
    await eventually(() => gatehouse.store.index !== undefined, 15_000, 'the first sync');
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);
    assert.equal(await health.check(''), ServingStatus.SERVING);
    const ok = okOf(await envoy.check({ host: HOST, path: '/orders', headers: { apikey: 'acme-key-1' } }));
    assert.deepEqual(ok.headers.filter((h) => h.key === 'x-consumer-id').map((h) => h.value), ['acme']);
    assert.equal(await check('globex-key-1'), 200);
    assert.equal(await check(), 401);
    assert.equal(await check('wrong'), 401);
    await eventually(() => readyOf(server, 'shop', 'api')?.status === 'True', 5000, 'the Ready status');
  });

  it('a rotated key works at once and the old one stops working', async () => {
    withKeys(server, 'shop', 'acme', 'acme-key-2');
    await eventually(() => gatehouse.store.index?.keyCount === 2 && gatehouse.store.secretCount === 2, 5000, 'the rotation');
    let status = await check('acme-key-2');
    for (let i = 0; i < 50 && status !== 200; i++) status = await check('acme-key-2');
    assert.equal(status, 200);
    assert.equal(await check('acme-key-1'), 401);
  });

  it('a deleted Secret revokes its key', async () => {
    server.delete('Secret', 'shop', 'globex');
    const started = Date.now();
    let status = await check('globex-key-1');
    while (status === 200 && Date.now() - started < 5000) status = await check('globex-key-1');
    assert.equal(status, 401);
    assert.ok(Date.now() - started < 1000, `revoked after ${Date.now() - started} ms`);
  });

  it('an invalid update keeps the last good policy serving and says so in the status', async () => {
    withSpec(server, 'shop', 'api', { hosts: [HOST], authentication: { methods: [{ name: 'keys', apiKey: { selector: {} } }] } });
    await eventually(() => readyOf(server, 'shop', 'api')?.status === 'False', 5000, 'the Invalid status');
    assert.equal(readyOf(server, 'shop', 'api')?.reason, 'Invalid');
    assert.match(String(readyOf(server, 'shop', 'api')?.message), /^spec\.authentication\.methods\[0\]\.apiKey\.selector: .*serving the last valid generation 1$/);
    assert.equal(await check('acme-key-2'), 200);
    assert.equal(await check('wrong'), 401);
  });

  it('after a dropped connection, policies created meanwhile take effect', async () => {
    server.dropWatches();
    server.create(keyPolicy('shop', 'web', 'web.example.com'));
    await eventually(() => gatehouse.store.status('shop', 'web')?.ready === true, 10_000, 'the new policy');
    const res = await envoy.check({ host: 'web.example.com', path: '/', headers: { apikey: 'acme-key-2' } });
    assert.equal(res.kind, 'ok');
    assert.equal(deniedOf(await envoy.check({ host: 'web.example.com', path: '/' })).status, 401);
  });
});
