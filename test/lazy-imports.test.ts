// What `gatehouse serve` loads decides its idle memory: @kubernetes/client-node alone costs ~80 MB and
// ioredis ~30 MB. Served from policy files neither is loaded; with --kubernetes the client is loaded
// only for a kubeconfig whose user needs it (an exec plugin, an auth provider). The gRPC services are
// defined with direct codecs, so protobufjs and @grpc/proto-loader (~6 MB) are not loaded either.
// Nor is node's bundled undici (~3 MB of heap, 2-5 MB RSS on Node 26), which an ESM import of node:http
// loads there (its WebSocket getters), unless a policy fetches with it (OpenID Connect).
// The child process reports every package it resolved (ESM resolutions through a module hook, CommonJS
// ones from the require cache, undici from node's list of loaded builtins) when it exits.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, closedPort, dirWith, ROOT } from './support/cli.js';
import { eventually } from './support/eventually.js';
import { kubeconfig } from './support/kubeconfig.js';
import { TestPki } from './support/tls-pki.js';

const LOOPBACK = ['--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--shutdown-delay', '0s', '--shutdown-grace', '0s'];

// Runs in the hooks thread: names each package an ESM import resolves to, on stderr.
const HOOKS = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
  if (m !== null) writeSync(2, 'PACKAGE ' + m[1] + '\\n');
  return result;
}
`;
// Preloaded with --import: installs the hooks, and at exit names the CommonJS packages required.
const PRELOAD = `
import { createRequire, register } from 'node:module';
import { writeSync } from 'node:fs';
register(new URL('./hooks.mjs', import.meta.url));
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  for (const file of Object.keys(cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file);
    if (m !== null) writeSync(2, 'PACKAGE ' + m[1] + '\\n');
  }
  // node's own copy of undici (fetch, Headers, WebSocket): a builtin, so no hook sees it.
  if (process.moduleLoadList.includes('NativeModule internal/deps/undici/undici')) writeSync(2, 'PACKAGE node:undici\\n');
});
`;

/** Starts serve with `args`, stops it with SIGTERM once started, and answers the packages it loaded. */
async function packagesLoadedBy(args: readonly string[], env: Record<string, string> = {}): Promise<Set<string>> {
  const dir = dirWith({ 'hooks.mjs': HOOKS, 'preload.mjs': PRELOAD });
  const child = spawn(process.execPath, ['--import', join(dir, 'preload.mjs'), CLI, 'serve', ...args, ...LOOPBACK], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await eventually(() => out.includes('"msg":"gatehouse started"'), 30_000, `gatehouse started\n${out}\n${err}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
  return new Set([...err.matchAll(/^PACKAGE (\S+)$/gm)].map((m) => m[1] ?? ''));
}

describe('serve loads the Kubernetes client and the Redis client only when it uses them', () => {
  it('serving the example policy files loads neither @kubernetes/client-node nor ioredis, nor protobufjs', { timeout: 60_000 }, async () => {
    const loaded = await packagesLoadedBy(['--policies', 'deploy/examples']);
    // The report works: the gRPC server (CommonJS) and the YAML parser (ESM) are listed.
    assert.ok(loaded.has('@grpc/grpc-js'), [...loaded].join(', '));
    assert.ok(loaded.has('yaml'), [...loaded].join(', '));
    assert.equal(loaded.has('@kubernetes/client-node'), false, [...loaded].join(', '));
    assert.equal(loaded.has('ioredis'), false, [...loaded].join(', '));
    assert.equal(loaded.has('@grpc/proto-loader'), false, [...loaded].join(', '));
    assert.equal(loaded.has('protobufjs'), false, [...loaded].join(', '));
  });

  it("serving API-key, session and public policies from files does not load node's bundled undici", { timeout: 60_000 }, async () => {
    const examples = ['api-keys.yaml', 'session.yaml', 'public-site.yaml'];
    const dir = dirWith(Object.fromEntries(examples.map((f) => [f, readFileSync(join(ROOT, 'deploy/examples', f), 'utf8')])));
    const loaded = await packagesLoadedBy(['--policies', dir]);
    assert.ok(loaded.has('@grpc/grpc-js'), [...loaded].join(', '));
    assert.equal(loaded.has('node:undici'), false, [...loaded].join(', '));
  });

  /** Serves --kubernetes from a kubeconfig whose one user is `user` (a YAML flow mapping); answers what it loaded. */
  async function kubernetesPackages(user: string, files: Record<string, string> = {}): Promise<Set<string>> {
    const port = await closedPort();
    const home = dirWith({ ...files, kubeconfig: kubeconfig(`{server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}`, user) });
    return packagesLoadedBy(['--kubernetes', '--watch-stale-after', '1h'], { HOME: home, KUBECONFIG: join(home, 'kubeconfig') });
  }

  it('serving with --kubernetes and a token kubeconfig loads neither @kubernetes/client-node nor ioredis', { timeout: 60_000 }, async () => {
    const loaded = await kubernetesPackages('{token: t}');
    assert.ok(loaded.has('yaml'), [...loaded].join(', '));
    assert.equal(loaded.has('node:undici'), false, [...loaded].join(', '));
    assert.equal(loaded.has('@kubernetes/client-node'), false, [...loaded].join(', '));
    assert.equal(loaded.has('ioredis'), false, [...loaded].join(', '));
  });

  it('serving with --kubernetes and a client-certificate kubeconfig does not load @kubernetes/client-node', { timeout: 60_000 }, async () => {
    const pki = await TestPki.create();
    const pair = pki.client('gatehouse');
    const loaded = await kubernetesPackages('{client-certificate: client.crt, client-key: client.key}', { 'client.crt': pair.cert, 'client.key': pair.key });
    assert.equal(loaded.has('@kubernetes/client-node'), false, [...loaded].join(', '));
  });

  it('serving with --kubernetes and an exec-plugin kubeconfig loads @kubernetes/client-node for it', { timeout: 60_000 }, async () => {
    const loaded = await kubernetesPackages('{exec: {apiVersion: client.authentication.k8s.io/v1, command: "false", interactiveMode: Never}}');
    assert.ok(loaded.has('@kubernetes/client-node'), [...loaded].join(', '));
    assert.equal(loaded.has('ioredis'), false, [...loaded].join(', '));
  });

  it('the hook sees CommonJS requires too: a process that requires ioredis reports it', () => {
    const dir = dirWith({ 'hooks.mjs': HOOKS, 'preload.mjs': PRELOAD });
    const r = spawnSync(process.execPath, ['--import', join(dir, 'preload.mjs'), '-e', "require('ioredis')"], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^PACKAGE ioredis$/m);
  });

  it("the report names node's undici when a process uses Headers", () => {
    const dir = dirWith({ 'hooks.mjs': HOOKS, 'preload.mjs': PRELOAD, 'headers.cjs': 'new Headers();' });
    const r = spawnSync(process.execPath, ['--import', join(dir, 'preload.mjs'), join(dir, 'headers.cjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^PACKAGE node:undici$/m);
  });
});
