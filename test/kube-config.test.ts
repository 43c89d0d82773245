// Where `serve --kubernetes` finds its cluster and what it makes of each kubeconfig field: the order
// ($KUBECONFIG, ~/.kube/config, the pod's service account), kubectl's merge of several files, every
// field read natively, the hand-over to client-node for the rest, and one clear line for a bad file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { ClusterAccess } from '../src/sources/kube-access.js';
import { KubeConfigError, loadKubeConfig } from '../src/sources/kube-config.js';
import { kubeconfig } from './support/kubeconfig.js';
import { TestPki, type Issued } from './support/tls-pki.js';

interface Place {
  readonly dir: string;
  readonly home: string;
  readonly serviceAccountDir: string;
  /** Writes a file under dir (directories made as needed); answers its path. */
  write(name: string, text: string): string;
}

function place(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  return { dir, home: join(dir, 'home'), serviceAccountDir: join(dir, 'sa'), write };
}

function load(p: Place, env: Record<string, string> = {}): Promise<ClusterAccess> {
  return loadKubeConfig({ env, home: p.home, serviceAccountDir: p.serviceAccountDir });
}

interface Seen {
  readonly server: string;
  readonly authorization: string | undefined;
  /** The TLS settings of the agent, or 'plain' for an http:// server. */
  readonly tls: 'plain' | { ca: string | undefined; cert: string | undefined; key: string | undefined; rejectUnauthorized: boolean | undefined; servername: string | undefined };
}

async function seen(access: ClusterAccess): Promise<Seen> {
  const options = await access.requestOptions();
  const headers = (options.headers ?? {}) as Record<string, string | undefined>;
  const agent = options.agent;
  const text = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  return {
    server: access.server,
    authorization: headers.authorization,
    tls:
      agent instanceof HttpsAgent
        ? { ca: text(agent.options.ca), cert: text(agent.options.cert), key: text(agent.options.key), rejectUnauthorized: agent.options.rejectUnauthorized, servername: agent.options.servername }
        : 'plain',
  };
}

const NO_TLS = { ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true, servername: undefined };

/** Asserts that loading fails with a KubeConfigError of this code and exact message. */
async function refused(loading: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(loading, (e: unknown) => {
    assert.ok(e instanceof KubeConfigError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    return true;
  });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let pki: TestPki;
let client: Issued;
/** A second client: its key does not match `client`'s certificate. */
let other: Issued;
before(async () => {
  pki = await TestPki.create();
  client = pki.client('gatehouse');
  other = pki.client('other');
});

describe('where the cluster configuration is found', () => {
  it('$KUBECONFIG first, then ~/.kube/config, then the service account; none is one clear refusal', async () => {
    const p = place();
    const named = p.write('named/config', kubeconfig('{server: "https://named.example:6443"}', '{token: named}'));
    p.write('home/.kube/config', kubeconfig('{server: "https://home.example:6443"}', '{token: home}'));
    p.write('sa/token', 'pod-token\n');
    p.write('sa/ca.crt', pki.ca);
    const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    assert.deepEqual(await seen(await load(p, { ...pod, KUBECONFIG: named })), { server: 'https://named.example:6443', authorization: 'Bearer named', tls: NO_TLS });
    assert.deepEqual(await seen(await load(p, pod)), { server: 'https://home.example:6443', authorization: 'Bearer home', tls: NO_TLS });

    const pod2 = place();
    pod2.write('sa/token', 'pod-token\n');
    pod2.write('sa/ca.crt', pki.ca);
    const access = await load(pod2, pod);
    assert.deepEqual(await seen(access), { server: 'https://10.0.0.1:443', authorization: 'Bearer pod-token', tls: { ...NO_TLS, ca: pki.ca } });
    assert.equal(access.description, `in-cluster service account ${pod2.serviceAccountDir}`);

    const empty = place();
    const token = join(empty.serviceAccountDir, 'token');
    const nothing = `--kubernetes: no cluster configured: KUBECONFIG is not set, ${join(empty.home, '.kube', 'config')} does not exist and this is not a pod (no ${token}); point KUBECONFIG at a kubeconfig, or read policy files with --policies`;
    await refused(load(empty), 'kubeconfig_missing', nothing);
    // The service account's files without the pod's environment are not a pod either.
    empty.write('sa/token', 't');
    await refused(load(empty), 'kubeconfig_missing', nothing);
    await refused(load(empty, { KUBECONFIG: join(empty.dir, 'gone') }), 'kubeconfig_missing', `--kubernetes: KUBECONFIG names ${join(empty.dir, 'gone')}, which does not exist`);
  });

  it('the files of $KUBECONFIG merge as kubectl merges them: the first current-context and the first of each name win', async () => {
    const p = place();
    const first = p.write(
      'a/config',
      ['current-context: dev', 'contexts: [{name: dev, context: {cluster: shared, user: dev}}]', 'users: [{name: dev, user: {tokenFile: dev.token}}]'].join('\n'),
    );
    p.write('a/dev.token', 'from-a\n');
    const second = p.write(
      'b/config',
      [
        'current-context: prod',
        'contexts: [{name: prod, context: {cluster: shared, user: prod}}]',
        'users: [{name: dev, user: {token: from-b}}, {name: prod, user: {token: prod}}]',
        'clusters: [{name: shared, cluster: {server: "https://shared.example/", certificate-authority: ca.crt}}]',
      ].join('\n'),
    );
    p.write('b/ca.crt', pki.ca);
    // Empty entries of the list are skipped; each relative path is read beside the file that names it.
    const access = await load(p, { KUBECONFIG: `${first}::${second}` });
    assert.deepEqual(await seen(access), { server: 'https://shared.example', authorization: 'Bearer from-a', tls: { ...NO_TLS, ca: pki.ca } });
    assert.equal(access.description, `kubeconfig ${first}:${second}, context dev`);
  });
});

describe('each kubeconfig field gatehouse reads itself', () => {
  it('token, certificate-authority-data, tls-server-name and a trailing slash on server', async () => {
    const p = place();
    const file = p.write('config', kubeconfig(`{server: "https://10.1.2.3:6443/", certificate-authority-data: ${b64(pki.ca)}, tls-server-name: api.internal}`, '{token: abc}'));
    assert.deepEqual(await seen(await load(p, { KUBECONFIG: file })), {
      server: 'https://10.1.2.3:6443',
      authorization: 'Bearer abc',
      tls: { ...NO_TLS, ca: pki.ca, servername: 'api.internal' },
    });
  });

  it('client-certificate and client-key as files or as data, with no token', async () => {
    const p = place();
    p.write('certs/client.crt', client.cert);
    p.write('certs/client.key', client.key);
    const files = p.write('config', kubeconfig('{server: "https://api.example"}', '{client-certificate: certs/client.crt, client-key: certs/client.key}'));
    const expected: Seen = { server: 'https://api.example', authorization: undefined, tls: { ...NO_TLS, cert: client.cert, key: client.key } };
    assert.deepEqual(await seen(await load(p, { KUBECONFIG: files })), expected);
    const data = p.write('data', kubeconfig('{server: "https://api.example"}', `{client-certificate-data: ${b64(client.cert)}, client-key-data: ${b64(client.key)}}`));
    assert.deepEqual(await seen(await load(p, { KUBECONFIG: data })), expected);
  });

  it('insecure-skip-tls-verify, and a plain http:// server with no TLS at all', async () => {
    const p = place();
    const insecure = p.write('insecure', kubeconfig('{server: "https://api.example", insecure-skip-tls-verify: true}', '{token: t}'));
    assert.deepEqual(await seen(await load(p, { KUBECONFIG: insecure })), { server: 'https://api.example', authorization: 'Bearer t', tls: { ...NO_TLS, rejectUnauthorized: false } });
    const plain = p.write('plain', kubeconfig('{server: "http://127.0.0.1:8001"}', '{}'));
    assert.deepEqual(await seen(await load(p, { KUBECONFIG: plain })), { server: 'http://127.0.0.1:8001', authorization: undefined, tls: 'plain' });
  });

  it('tokenFile is read again for each request, keeping the last token while the file is empty; token wins over tokenFile', async () => {
    const p = place();
    const tokenFile = p.write('token', 'first\n');
    const file = p.write('config', kubeconfig('{server: "https://api.example"}', '{tokenFile: token}'));
    const access = await load(p, { KUBECONFIG: file });
    assert.equal((await seen(access)).authorization, 'Bearer first');
    writeFileSync(tokenFile, 'second');
    assert.equal((await seen(access)).authorization, 'Bearer second');
    writeFileSync(tokenFile, '');
    assert.equal((await seen(access)).authorization, 'Bearer second');
    const both = p.write('both', kubeconfig('{server: "https://api.example"}', '{token: inline, tokenFile: token}'));
    assert.equal((await seen(await load(p, { KUBECONFIG: both }))).authorization, 'Bearer inline');
  });

  it('in a pod: the service account token is re-read as the kubelet rotates it; IPv6 hosts and plain-HTTP ports', async () => {
    const p = place();
    const token = p.write('sa/token', 'one');
    p.write('sa/ca.crt', pki.ca);
    const access = await load(p, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' });
    assert.equal(access.server, 'https://[fd00::1]:6443');
    assert.equal((await seen(access)).authorization, 'Bearer one');
    writeFileSync(token, 'two\n');
    assert.equal((await seen(access)).authorization, 'Bearer two');
    const plain = await load(p, { KUBERNETES_SERVICE_HOST: 'proxy', KUBERNETES_SERVICE_PORT: '8080' });
    assert.deepEqual(await seen(plain), { server: 'http://proxy:8080', authorization: 'Bearer two', tls: 'plain' });
  });
});

describe('what gatehouse does not read itself goes to client-node, as before', () => {
  it('a user with a username and password is configured by client-node, in the context chosen here', async () => {
    const p = place();
    const file = p.write(
      'config',
      [
        'current-context: basic',
        'clusters: [{name: c, cluster: {server: "https://api.example", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {username: alice, password: secret}}]',
        'contexts: [{name: basic, context: {cluster: c, user: u}}]',
      ].join('\n'),
    );
    const access = await load(p, { KUBECONFIG: file });
    assert.equal(access.server, 'https://api.example');
    assert.equal(access.description, `kubeconfig ${file}, context basic, through @kubernetes/client-node for user.username, user.password`);
    const options: RequestOptions = await access.requestOptions();
    assert.equal(options.auth, 'alice:secret');
    assert.equal(options.rejectUnauthorized, false);
  });

  it('an exec plugin, an auth provider or a proxy-url is named in the description', async () => {
    const p = place();
    const cases: Array<[string, string, string]> = [
      ['{server: "https://a.example"}', '{exec: {apiVersion: client.authentication.k8s.io/v1, command: "false"}}', 'user.exec'],
      ['{server: "https://a.example"}', '{auth-provider: {name: oidc, config: {id-token: x}}}', 'user.auth-provider'],
      ['{server: "https://a.example", proxy-url: "http://proxy:3128"}', '{token: t}', 'cluster.proxy-url'],
    ];
    for (const [cluster, user, field] of cases) {
      const file = p.write(`config-${field}`, kubeconfig(cluster, user));
      const access = await load(p, { KUBECONFIG: file });
      assert.equal(access.description, `kubeconfig ${file}, context x, through @kubernetes/client-node for ${field}`);
    }
  });
});

describe('a bad kubeconfig stops serve with one line naming the file and the field', () => {
  it('each problem is named', async () => {
    const p = place();
    const missingCa = join(p.dir, 'nope.crt');
    const cases: Array<[string, string]> = [
      ['clusters: [', 'is not YAML'],
      ['- a\n- b', 'is not a kubeconfig (a YAML mapping)'],
      ['clusters: {a: 1}', 'clusters must be a list'],
      ['clusters: [{cluster: {server: "https://a"}}]', 'clusters[0].name is missing'],
      ['users: [{name: u, user: [1]}]', 'users[0] (u).user must be a mapping'],
      ['current-context: [x]', 'current-context must be a string'],
      [kubeconfig('{certificate-authority-data: x}', '{}'), 'clusters[0] (x).cluster.server is missing'],
      [kubeconfig('{server: "api.example:6443"}', '{}'), 'clusters[0] (x).cluster.server: "api.example:6443" is not an http:// or https:// URL'],
      [kubeconfig('{server: "https://a", certificate-authority: nope.crt}', '{}'), `clusters[0] (x).cluster.certificate-authority: cannot read ${missingCa}: ENOENT`],
      [kubeconfig('{server: "https://a", certificate-authority-data: "not base64!"}', '{}'), 'clusters[0] (x).cluster.certificate-authority-data is not base64'],
      [kubeconfig(`{server: "https://a", certificate-authority-data: ${b64('not a certificate')}}`, '{}'), 'clusters[0] (x).cluster.certificate-authority does not load'],
      [kubeconfig(`{server: "https://a", insecure-skip-tls-verify: true, certificate-authority-data: ${b64(pki.ca)}}`, '{}'), 'clusters[0] (x).cluster: insecure-skip-tls-verify and a certificate authority are both given; keep one'],
      [kubeconfig('{server: "https://a", insecure-skip-tls-verify: "yes"}', '{}'), 'clusters[0] (x).cluster.insecure-skip-tls-verify must be true or false'],
      [kubeconfig('{server: "https://a"}', `{client-certificate-data: ${b64(client.cert)}}`), 'users[0] (x).user: a client certificate needs its key (client-certificate and client-key go together)'],
      [kubeconfig('{server: "https://a"}', `{client-certificate-data: ${b64(client.cert)}, client-key-data: ${b64(pki.ca)}}`), 'users[0] (x).user.client-certificate and client-key does not load'],
      [
        kubeconfig('{server: "https://a"}', `{client-certificate-data: ${b64(client.cert)}, client-key-data: ${b64(other.key)}}`),
        'users[0] (x).user.client-certificate and client-key does not load: error:05800074:x509 certificate routines::key values mismatch',
      ],
      [kubeconfig('{server: "https://a"}', `{client-key: k, client-key-data: ${b64(client.key)}, client-certificate-data: ${b64(client.cert)}}`), 'users[0] (x).user: client-key and client-key-data are both given; keep one'],
      [kubeconfig('{server: "https://a"}', '{token: 7}'), 'users[0] (x).user.token must be a string'],
      [kubeconfig('{server: "https://a"}', '{tokenFile: empty.token}'), `users[0] (x).user.tokenFile: ${join(p.dir, 'empty.token')} is empty`],
      ['current-context: x\ncontexts: [{name: x, context: {cluster: gone}}]', 'contexts[0] (x).context.cluster names no cluster (gone)'],
      ['current-context: x\nclusters: [{name: c, cluster: {server: "https://a"}}]\ncontexts: [{name: x, context: {cluster: c, user: gone}}]', 'contexts[0] (x).context.user names no user (gone)'],
    ];
    p.write('empty.token', '\n');
    for (const [text, problem] of cases) {
      const file = p.write('config', text);
      await assert.rejects(load(p, { KUBECONFIG: file }), (e: unknown) => {
        assert.ok(e instanceof KubeConfigError, String(e));
        assert.equal(e.code, 'kubeconfig_invalid');
        assert.ok(e.message.startsWith('--kubernetes: '), e.message);
        assert.ok(e.message.includes(file), `${e.message} names ${file}`);
        assert.ok(e.message.includes(problem), `${e.message}\nshould say: ${problem}`);
        return true;
      }, `${text} is refused`);
    }
  });

  it('no current context, or one naming no context, says so with the files read', async () => {
    const p = place();
    const file = p.write('config', 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    await refused(load(p, { KUBECONFIG: file }), 'kubeconfig_invalid', `--kubernetes: the kubeconfig (${file}) has no current context with a cluster; choose one with kubectl config use-context`);
    const named = p.write('named', 'current-context: gone\n');
    await refused(load(p, { KUBECONFIG: named }), 'kubeconfig_invalid', `--kubernetes: current-context "gone" names no context of ${named}; choose one with kubectl config use-context`);
  });

  it('in a pod, an unreadable service account CA or an empty token is named', async () => {
    const p = place();
    const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const token = p.write('sa/token', '\n');
    const ca = join(p.serviceAccountDir, 'ca.crt');
    await refused(load(p, pod), 'kubeconfig_invalid', `--kubernetes: the service account CA: cannot read ${ca}: ENOENT`);
    p.write('sa/ca.crt', pki.ca);
    await refused(load(p, pod), 'kubeconfig_invalid', `--kubernetes: the service account token: ${token} is empty`);
  });
});
