// proto/ passes `buf lint` with the repository's buf.yaml and builds into one image.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUF = join(ROOT, 'node_modules', '.bin', 'buf');

function buf(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BUF, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the buf binary is installed', () => {
  assert.ok(existsSync(BUF), `${BUF} is missing: run npm ci`);
  assert.match(buf('--version').stdout, /^1\.\d+\.\d+/);
});

test('buf lint passes on proto/ with no findings', { timeout: 60_000 }, () => {
  const r = buf('lint');
  assert.deepEqual(r, { status: 0, stdout: '', stderr: '' });
});

test('buf lint still catches a rule outside the waived files', { timeout: 60_000 }, () => {
  // The same module linted without the waivers must report, proving lint actually runs over proto/.
  const r = buf('lint', '--config', JSON.stringify({ version: 'v2', modules: [{ path: 'proto' }], lint: { use: ['STANDARD'] } }));
  assert.equal(r.status, 100);
  assert.match(r.stdout, /^proto\/envoy\/type\/v3\/http_status\.proto:\d+:\d+:.*"NotFound"/m);
  assert.match(r.stdout, /^proto\/grpc\/health\/v1\/health\.proto:\d+:\d+:.*"Health"/m);
});

test('buf build compiles every file in proto/', { timeout: 60_000 }, () => {
  const r = buf('build', '--exclude-source-info', '-o', '-#format=json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const image: unknown = JSON.parse(r.stdout);
  const files = Reflect.get(image as object, 'file');
  assert.ok(Array.isArray(files));
  const names = (files as unknown[]).map((f) => String(Reflect.get(f as object, 'name'))).filter((n) => !n.startsWith('google/protobuf/'));
  assert.deepEqual(names.sort(), [
    'envoy/config/core/v3/address.proto',
    'envoy/config/core/v3/base.proto',
    'envoy/service/auth/v3/attribute_context.proto',
    'envoy/service/auth/v3/external_auth.proto',
    'envoy/type/v3/http_status.proto',
    'google/rpc/status.proto',
    'grpc/health/v1/health.proto',
  ]);
});
