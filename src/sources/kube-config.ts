// Where --kubernetes finds its cluster, read without @kubernetes/client-node (importing it costs ~80 MB
// of memory): the files of $KUBECONFIG (merged as kubectl merges them), else ~/.kube/config, else the
// pod's service account. A current user or cluster needing more than a token or a client certificate
// (exec plugins, auth providers, passwords, impersonation, proxies) is handed to client-node, imported
// only then.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parse } from 'yaml';
import { type ClusterAccess, nativeAccess, type TokenSource } from './kube-access.js';
import { describe } from './kubernetes-api.js';
import { isObject } from './resource-fields.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** --kubernetes without a usable cluster configuration: the process stops with this one line. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
  readonly code: 'kubeconfig_missing' | 'kubeconfig_invalid';

  constructor(code: KubeConfigError['code'], message: string, options?: ErrorOptions) {
    super(`--kubernetes: ${message}`, options);
    this.code = code;
  }
}

/** What the loader looks at; tests replace them. */
export interface KubeConfigPlaces {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly home: string;
  readonly serviceAccountDir: string;
}

// Fields read here; any other field of the current cluster or user sends the configuration to client-node.
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions', 'disable-compression']);
const USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'extensions']);

/**
 * $KUBECONFIG, else ~/.kube/config, else the pod's service account (client-node's order). Where none
 * exists client-node would fall back to http://localhost:8080 and the informers retry it for ever: that
 * is refused with a KubeConfigError saying what was looked for.
 */
export async function loadKubeConfig(places: Partial<KubeConfigPlaces> = {}): Promise<ClusterAccess> {
  const env = places.env ?? process.env;
  const serviceAccount = places.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
  const userConfig = join(places.home ?? homedir(), '.kube', 'config');
  const tokenFile = join(serviceAccount, 'token');
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (files.length === 0 && !existsSync(userConfig)) {
    if (host !== undefined && port !== undefined && existsSync(tokenFile)) return inCluster(host, port, serviceAccount);
    throw new KubeConfigError(
      'kubeconfig_missing',
      `no cluster configured: KUBECONFIG is not set, ${userConfig} does not exist and this is not a pod (no ${tokenFile}); ` +
        'point KUBECONFIG at a kubeconfig, or read policy files with --policies',
    );
  }
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new KubeConfigError('kubeconfig_missing', `KUBECONFIG names ${missing.join(', ')}, which does not exist`);
  const paths = files.length > 0 ? files : [userConfig];
  const chosen = select(merge(paths), paths);
  const unsupported = [...unknownFields(chosen.cluster, CLUSTER_FIELDS, 'cluster'), ...unknownFields(chosen.user, USER_FIELDS, 'user')];
  if (unsupported.length > 0) return clientNodeAccess(paths, chosen.context, unsupported);
  return nativeAccess({ ...clusterFields(chosen.cluster), ...userFields(chosen.user), description: `kubeconfig ${paths.join(delimiter)}, context ${chosen.context}` });
}

/** One named entry of `clusters`, `users` or `contexts`, with where it was defined (for messages and relative paths). */
interface Entry {
  readonly body: Record<string, unknown>;
  /** `/path/config: users[1] (alice).user` */
  readonly where: string;
  readonly dir: string;
}

interface Merged {
  readonly clusters: Map<string, Entry>;
  readonly users: Map<string, Entry>;
  readonly contexts: Map<string, Entry>;
  currentContext: string | undefined;
}

const LISTS = [
  ['clusters', 'cluster'],
  ['users', 'user'],
  ['contexts', 'context'],
] as const;

/** kubectl's rules: the first file to define a name, or to set current-context, wins. */
function merge(files: readonly string[]): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  for (const file of files) {
    const doc = readDocument(file);
    for (const [list, key] of LISTS) {
      const items = doc[list];
      if (items === undefined || items === null) continue;
      if (!Array.isArray(items)) throw invalid(`${file}: ${list} must be a list`);
      items.forEach((item: unknown, i) => {
        const at = `${file}: ${list}[${i}]`;
        if (!isObject(item) || typeof item.name !== 'string' || item.name === '') throw invalid(`${at}.name is missing`);
        const body = item[key] ?? (key === 'user' ? {} : undefined);
        if (!isObject(body)) throw invalid(`${at} (${item.name}).${key} must be a mapping`);
        if (!merged[list].has(item.name)) merged[list].set(item.name, { body, where: `${at} (${item.name}).${key}`, dir: dirname(resolve(file)) });
      });
    }
    const current = doc['current-context'];
    if (current !== undefined && current !== null && typeof current !== 'string') throw invalid(`${file}: current-context must be a string`);
    if (merged.currentContext === undefined && typeof current === 'string' && current !== '') merged.currentContext = current;
  }
  return merged;
}

function readDocument(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw invalid(`cannot read the kubeconfig ${file}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw invalid(`${file} is not YAML: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObject(doc)) throw invalid(`${file} is not a kubeconfig (a YAML mapping)`);
  return doc;
}

interface Chosen {
  readonly context: string;
  readonly cluster: Entry;
  readonly user: Entry | undefined;
}

function select(merged: Merged, files: readonly string[]): Chosen {
  const name = merged.currentContext;
  if (name === undefined) {
    throw invalid(`the kubeconfig (${files.join(', ')}) has no current context with a cluster; choose one with kubectl config use-context`);
  }
  const context = merged.contexts.get(name);
  if (context === undefined) throw invalid(`current-context ${JSON.stringify(name)} names no context of ${files.join(', ')}; choose one with kubectl config use-context`);
  const clusterName = optionalString(context, 'cluster');
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
  if (cluster === undefined) throw invalid(`${context.where}.cluster names no cluster${clusterName === undefined ? '' : ` (${clusterName})`}`);
  const userName = optionalString(context, 'user');
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && user === undefined) throw invalid(`${context.where}.user names no user (${userName})`);
  return { context: name, cluster, user };
}

function unknownFields(entry: Entry | undefined, known: ReadonlySet<string>, kind: string): string[] {
  if (entry === undefined) return [];
  return Object.keys(entry.body)
    .filter((k) => !known.has(k) && entry.body[k] !== null && entry.body[k] !== undefined)
    .map((k) => `${kind}.${k}`);
}

function clusterFields(entry: Entry): { server: string; ca: Buffer | undefined; insecureSkipTlsVerify: boolean; tlsServerName: string | undefined } {
  const server = optionalString(entry, 'server');
  if (server === undefined) throw invalid(`${entry.where}.server is missing`);
  if (!/^https?:\/\/[^/]/.test(server) || !URL.canParse(server)) throw invalid(`${entry.where}.server: ${JSON.stringify(server)} is not an http:// or https:// URL`);
  const ca = material(entry, 'certificate-authority', 'certificate-authority-data');
  const insecure = entry.body['insecure-skip-tls-verify'] ?? false;
  if (typeof insecure !== 'boolean') throw invalid(`${entry.where}.insecure-skip-tls-verify must be true or false`);
  if (insecure && ca !== undefined) throw invalid(`${entry.where}: insecure-skip-tls-verify and a certificate authority are both given; keep one`);
  if (ca !== undefined) loads(entry, 'certificate-authority', () => checkCertificates(ca));
  return { server: server.replace(/\/+$/, ''), ca, insecureSkipTlsVerify: insecure, tlsServerName: optionalString(entry, 'tls-server-name') };
}

function userFields(entry: Entry | undefined): { cert: Buffer | undefined; key: Buffer | undefined; token: TokenSource } {
  if (entry === undefined) return { cert: undefined, key: undefined, token: { kind: 'none' } };
  const cert = material(entry, 'client-certificate', 'client-certificate-data');
  const key = material(entry, 'client-key', 'client-key-data');
  if ((cert === undefined) !== (key === undefined)) throw invalid(`${entry.where}: a client certificate needs its key (client-certificate and client-key go together)`);
  if (cert !== undefined) loads(entry, 'client-certificate and client-key', () => createSecureContext({ cert, key }));
  // As kubectl: a token given inline takes precedence over tokenFile.
  const token = optionalString(entry, 'token');
  if (token !== undefined) return { cert, key, token: { kind: 'value', value: token } };
  const tokenFile = optionalString(entry, 'tokenFile');
  if (tokenFile === undefined) return { cert, key, token: { kind: 'none' } };
  const path = resolve(entry.dir, tokenFile);
  return { cert, key, token: { kind: 'file', path, first: readToken(path, `${entry.where}.tokenFile`) } };
}

function inCluster(host: string, port: string, dir: string): ClusterAccess {
  // As client-node: the ports of a plain-HTTP proxy mean http.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const caFile = join(dir, 'ca.crt');
  const tokenFile = join(dir, 'token');
  const ca = scheme === 'https' ? readFile(caFile, 'the service account CA') : undefined;
  if (ca !== undefined) {
    try {
      checkCertificates(ca);
    } catch (e) {
      throw invalid(`the service account CA ${caFile} does not load: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }
  return nativeAccess({
    server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca,
    cert: undefined,
    key: undefined,
    insecureSkipTlsVerify: false,
    tlsServerName: undefined,
    token: { kind: 'file', path: tokenFile, first: readToken(tokenFile, 'the service account token') },
    description: `in-cluster service account ${dir}`,
  });
}

/** A file field (relative to its kubeconfig's directory) or its `-data` twin (base64); never both. */
function material(entry: Entry, fileKey: string, dataKey: string): Buffer | undefined {
  const file = optionalString(entry, fileKey);
  const data = optionalString(entry, dataKey);
  if (file !== undefined && data !== undefined) throw invalid(`${entry.where}: ${fileKey} and ${dataKey} are both given; keep one`);
  if (file !== undefined) return readFile(resolve(entry.dir, file), `${entry.where}.${fileKey}`);
  if (data === undefined) return undefined;
  const compact = data.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw invalid(`${entry.where}.${dataKey} is not base64`);
  return Buffer.from(compact, 'base64');
}

/** node takes a CA bundle without a single certificate in it silently: that is refused here. */
function checkCertificates(pem: Buffer): void {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  for (const block of blocks) new X509Certificate(block);
}

function loads(entry: Entry, fields: string, load: () => unknown): void {
  try {
    load();
  } catch (e) {
    throw invalid(`${entry.where}.${fields} does not load: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

function optionalString(entry: Entry, key: string): string | undefined {
  const v = entry.body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`${entry.where}.${key} must be a string`);
  return v;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw invalid(`${what}: cannot read ${path}: ${e instanceof Error && 'code' in e ? String(e.code) : String(e)}`, e);
  }
}

function readToken(path: string, what: string): string {
  const token = readFile(path, what).toString('utf8').trim();
  if (token === '') throw invalid(`${what}: ${path} is empty`);
  return token;
}

function invalid(message: string, cause?: unknown): KubeConfigError {
  return new KubeConfigError('kubeconfig_invalid', message, cause === undefined ? undefined : { cause });
}

/** The same files through client-node, for what only it handles; the current context stays the one chosen here. */
async function clientNodeAccess(files: readonly string[], context: string, fields: readonly string[]): Promise<ClusterAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    files.forEach((file, i) => {
      if (i === 0) return kc.loadFromFile(file);
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more, true);
    });
    kc.setCurrentContext(context);
  } catch (e) {
    throw invalid(`cannot read the kubeconfig: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw invalid(`the kubeconfig (${files.join(', ')}) has no current context with a cluster; choose one with kubectl config use-context`);
  return {
    server: cluster.server.replace(/\/+$/, ''),
    description: `kubeconfig ${files.join(delimiter)}, context ${context}, through @kubernetes/client-node for ${fields.join(', ')}`,
    async requestOptions(): Promise<RequestOptions> {
      const options: RequestOptions = {};
      try {
        await kc.applyToHTTPSOptions(options);
      } catch (e) {
        throw new Error(`@kubernetes/client-node could not apply ${fields.join(', ')} of the kubeconfig: ${describe(e)}`, { cause: e });
      }
      return options;
    },
  };
}
