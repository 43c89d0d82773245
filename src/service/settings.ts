// `gatehouse serve` flags and GATEHOUSE_* environment variables -> frozen, validated settings. The
// SETTINGS table drives parsing, the variables, defaults, validation and `serve --help`; every message
// names the flag and the variable. Flags win over the environment, the environment over defaults.
import { address, bool, bytes, duration, last, list, no, ok, oneOf, optional, text, type ValueType } from '../args/flag-types.js';
import { envName, type Env, type Flag, flagNames, type FlagValues, givenAs, readCommandLine, renderHelp, type Source, strayVariables, UsageError } from '../args/flags.js';
import { readRedisUrl } from '../redis/url.js';
import { unreadablePaths } from '../sources/manifest-paths.js';
import { LEVELS, type Level } from '../telemetry/log.js';

export { envName } from '../args/flags.js';

export interface Settings {
  readonly policies: readonly string[];
  readonly kubernetes: boolean;
  readonly watchNamespaces: readonly string[];
  readonly policySelector: string;
  readonly secretSelector: string;
  readonly grpcAddress: string;
  readonly adminAddress: string;
  /** HTTP forward-auth listen address; undefined turns the listener off. */
  readonly httpAddress: string | undefined;
  readonly logLevel: Level;
  readonly defaultDecision: 'deny' | 'allow';
  readonly maxRequestBytes: number;
  readonly maxHeaderBytes: number;
  readonly deadlineMarginMs: number;
  readonly shutdownGraceMs: number;
  readonly shutdownDelayMs: number;
  readonly redisUrl: string | undefined;
  /** How long a Redis session record is reused on this replica; 0 asks Redis on every Check. */
  readonly redisSessionCacheMs: number;
  readonly watchStaleAfterMs: number;
  /** TLS on the gRPC and HTTP listeners: both files or neither (checked by readSettings). */
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  /** Mutual TLS: clients must present a certificate these CAs signed. Needs the two above. */
  readonly tlsClientCaFile: string | undefined;
  readonly tlsReloadIntervalMs: number;
  /** POST /debug/explain on the admin port. */
  readonly enableExplain: boolean;
}

/** A row whose value type yields exactly its setting's type. */
type SettingRow = { [K in keyof Settings]: Flag<K, Settings[K]> & { readonly env: true } }[keyof Settings];

// Shared with `gatehouse token`, which reads policy files and the revocation Redis the same way.
export const POLICIES_FLAG = {
  key: 'policies',
  flag: 'policies',
  type: list,
  metavar: '<file|dir>',
  env: true,
  help: 'AuthPolicy/Secret YAML files or directories (repeatable, or comma separated)',
} as const satisfies SettingRow;

/** A Redis URL checked as the client will read it: a bad one is a usage error, not a failed connection. */
const redisUrl: ValueType<string> = {
  metavar: '<url>',
  parse: (t) => {
    const url = last(t).trim();
    const read = readRedisUrl(url);
    return read.ok ? ok(url) : no(read.why);
  },
};

export const REDIS_URL_FLAG = {
  key: 'redisUrl',
  flag: 'redis-url',
  type: optional(redisUrl),
  metavar: '<url>',
  env: true,
  help: 'Redis for sessions and revocation: redis://, rediss://, redis+sentinel://, redis+cluster://',
} as const satisfies SettingRow;

// Shared with `gatehouse explain` and `gatehouse test`, which decide as serve does.
export const DEFAULT_DECISION_FLAG = {
  key: 'defaultDecision',
  flag: 'default-decision',
  type: oneOf(['deny', 'allow'] as const),
  env: true,
  fallback: 'deny',
  help: 'answer when no policy matches, or a Check has no HTTP request',
} as const satisfies SettingRow;

const KUBERNETES_FLAG = {
  key: 'kubernetes',
  flag: 'kubernetes',
  type: bool,
  env: true,
  help: 'read AuthPolicies and Secrets from the Kubernetes API (default in a pod without --policies)',
} as const satisfies SettingRow;

const TLS_CERT_FLAG = {
  key: 'tlsCertFile',
  flag: 'tls-cert-file',
  type: optional(text),
  metavar: '<file>',
  env: true,
  help: 'PEM certificate (and chain) for the gRPC and HTTP listeners, with --tls-key-file; turns TLS on (the admin port stays plain HTTP)',
} as const satisfies SettingRow;

const TLS_KEY_FLAG = { key: 'tlsKeyFile', flag: 'tls-key-file', type: optional(text), metavar: '<file>', env: true, help: 'PEM private key of --tls-cert-file' } as const satisfies SettingRow;

const TLS_CLIENT_CA_FLAG = {
  key: 'tlsClientCaFile',
  flag: 'tls-client-ca-file',
  type: optional(text),
  metavar: '<file>',
  env: true,
  help: 'PEM CA certificates: every client must present a certificate they signed (mutual TLS)',
} as const satisfies SettingRow;

const MEBIBYTE = 1 << 20;

export const SETTINGS = [
  POLICIES_FLAG,
  KUBERNETES_FLAG,
  { key: 'watchNamespaces', flag: 'watch-namespace', type: list, env: true, help: 'namespaces to watch (default: all)' },
  { key: 'policySelector', flag: 'policy-selector', type: text, metavar: '<selector>', env: true, fallback: '', help: 'label selector for AuthPolicies (sharding)' },
  {
    key: 'secretSelector', flag: 'secret-selector', type: text, metavar: '<selector>', env: true, fallback: 'gatehouse.dev/credential',
    help: 'label selector for the Secrets gatehouse reads, applied by the API server (only these are held in memory)',
  },
  { key: 'grpcAddress', flag: 'grpc-address', type: address, env: true, fallback: '0.0.0.0:9001', help: 'ext_authz gRPC listen address' },
  {
    key: 'httpAddress', flag: 'http-address', type: optional(address), env: true, fallback: '0.0.0.0:9002',
    help: 'HTTP forward-auth listen address (nginx auth_request, Traefik ForwardAuth, Envoy http_service); "" turns it off',
  },
  { key: 'adminAddress', flag: 'admin-address', type: address, env: true, fallback: '0.0.0.0:9090', help: '/metrics, /healthz, /readyz listen address' },
  { key: 'logLevel', flag: 'log-level', type: oneOf(LEVELS), env: true, fallback: 'info', help: 'least severe level logged' },
  DEFAULT_DECISION_FLAG,
  {
    key: 'maxRequestBytes', flag: 'max-request-bytes', type: bytes(1024, 1024 * MEBIBYTE), env: true, fallback: String(8 * MEBIBYTE),
    help: 'largest CheckRequest accepted (request bodies forwarded by Envoy)',
  },
  {
    key: 'maxHeaderBytes', flag: 'max-header-bytes', type: bytes(1024, 1024 * MEBIBYTE), env: true, fallback: '65536',
    help: 'largest total size of request headers; beyond it the request is denied (431)',
  },
  { key: 'deadlineMarginMs', flag: 'deadline-margin', type: duration(), env: true, fallback: '10ms', help: 'answer a Check this long before its gRPC deadline' },
  {
    key: 'shutdownDelayMs', flag: 'shutdown-delay', type: duration(), env: true, fallback: '5s',
    help: 'after SIGTERM, keep answering while not ready so load balancers and Envoy move away',
  },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace', type: duration(), env: true, fallback: '20s', help: 'then, time for in-flight Checks before connections are closed' },
  REDIS_URL_FLAG,
  {
    key: 'redisSessionCacheMs', flag: 'redis-session-cache-max-age', type: duration(), env: true, fallback: '1s',
    help: 'reuse a Redis session record on this replica for at most this long (writes are announced to every replica at once); 0s asks Redis on every Check',
  },
  { key: 'watchStaleAfterMs', flag: 'watch-stale-after', type: duration(), env: true, fallback: '60s', help: 'log and alarm when a Kubernetes watch has been down this long' },
  TLS_CERT_FLAG,
  TLS_KEY_FLAG,
  TLS_CLIENT_CA_FLAG,
  {
    key: 'tlsReloadIntervalMs', flag: 'tls-reload-interval', type: duration(100), env: true, fallback: '10s',
    help: 'how often the TLS files are read again; a changed certificate is served to new connections',
  },
  {
    key: 'enableExplain', flag: 'enable-explain', type: bool, env: true,
    help: 'answer POST /debug/explain on the admin address: a described request decided against the live policies, without side effects',
  },
] as const satisfies readonly SettingRow[];

export const SERVE_HELP = renderHelp({
  usage: ['gatehouse serve [flags]'],
  about: 'Runs the ext_authz gRPC server and the admin endpoint. Every flag is also an environment\nvariable (named under it); a flag wins over its variable.',
  sections: [{ title: 'flags', rows: SETTINGS }],
});

export type ServeCommandLine = { readonly help: true } | { readonly help: false; readonly settings: Settings };

export interface ReadSettingsOptions {
  /** Each --policies path must exist (default); off where the paths are the caller's own (tests). */
  readonly checkPaths?: boolean;
}

/** `serve`'s command line: --help, or settings checked in full before anything is opened or dialled. */
export function readSettings(argv: readonly string[], env: Env, options: ReadSettingsOptions = {}): ServeCommandLine {
  const line = readCommandLine(SETTINGS, argv, env, { command: 'gatehouse serve' });
  if (line.help) return line;
  const values: FlagValues<typeof SETTINGS> = line.values;
  const kubernetesSource = line.sources.get('kubernetes') ?? 'default';
  // In a pod, the Kubernetes API is the source unless files are named.
  const kubernetes = kubernetesSource === 'default' ? env.KUBERNETES_SERVICE_HOST !== undefined && values.policies.length === 0 : values.kubernetes;
  // Named as the user gave them: `--policies (GATEHOUSE_POLICIES) and GATEHOUSE_KUBERNETES (--kubernetes)`.
  const policiesName = givenAs(POLICIES_FLAG, line.sources.get('policies') ?? 'default');
  const kubernetesName = givenAs(KUBERNETES_FLAG, kubernetesSource);
  if (kubernetes && values.policies.length > 0) {
    throw new UsageError([`${policiesName} and ${kubernetesName} are both given: read policies from files or from Kubernetes, not both`]);
  }
  if (!kubernetes && values.policies.length === 0) throw new UsageError([`no policy source: give ${policiesName} or ${kubernetesName}`]);
  checkTls(values, line.sources);
  const unreadable = options.checkPaths === false ? [] : unreadablePaths(values.policies);
  if (unreadable.length > 0) throw new UsageError(unreadable.map((p) => `${policiesName} ${p}`));
  const settings: Settings = { ...values, kubernetes };
  return { help: false, settings: Object.freeze(settings) };
}

/** A certificate without its key (or the reverse), or client CAs without TLS, cannot be served. */
function checkTls(values: FlagValues<typeof SETTINGS>, sources: ReadonlyMap<string, Source>): void {
  const named = (row: SettingRow): string => givenAs(row, sources.get(row.key) ?? 'default');
  if ((values.tlsCertFile === undefined) !== (values.tlsKeyFile === undefined)) {
    const [given, missing] = values.tlsCertFile === undefined ? [TLS_KEY_FLAG, TLS_CERT_FLAG] : [TLS_CERT_FLAG, TLS_KEY_FLAG];
    throw new UsageError([`${named(given)} is given without ${flagNames(missing)}: TLS needs the certificate and its key`]);
  }
  if (values.tlsClientCaFile !== undefined && values.tlsCertFile === undefined) {
    throw new UsageError([`${named(TLS_CLIENT_CA_FLAG)} needs ${flagNames(TLS_CERT_FLAG)} and ${flagNames(TLS_KEY_FLAG)}: client certificates are asked for over TLS only`]);
  }
}

/** Settings from a command line that must not ask for help (tests, the benchmark); paths are not checked. */
export function loadSettings(argv: readonly string[], env: Env): { settings: Settings } {
  const line = readSettings(argv, env, { checkPaths: false });
  if (line.help) throw new UsageError(['--help asks for the help text, not for settings']);
  return line;
}

/** Warnings for GATEHOUSE_* variables that are no setting (a typo, most likely), with the nearest. */
export function straySettingVariables(env: Env): string[] {
  return strayVariables(env, SETTINGS);
}
