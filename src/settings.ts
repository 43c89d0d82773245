// Flags and GATEHOUSE_* environment variables -> frozen, validated settings. Every message names the
// flag and the variable. Flags win over the environment.
import { parseDuration } from './core/duration.js';
import { LEVELS, type Level } from './telemetry/log.js';

export interface Settings {
  readonly policies: readonly string[];
  readonly kubernetes: boolean;
  readonly watchNamespaces: readonly string[];
  readonly policySelector: string;
  readonly secretSelector: string;
  readonly grpcAddress: string;
  readonly adminAddress: string;
  readonly logLevel: Level;
  readonly defaultDecision: 'deny' | 'allow';
  readonly maxRequestBytes: number;
  readonly maxHeaderBytes: number;
  readonly deadlineMarginMs: number;
  readonly shutdownGraceMs: number;
  readonly shutdownDelayMs: number;
  readonly redisUrl: string | undefined;
  readonly watchStaleAfterMs: number;
}

type Kind = 'string' | 'list' | 'bool' | 'address' | 'duration' | 'bytes' | 'level' | 'decision';

interface Def {
  readonly key: keyof Settings;
  readonly flag: string;
  readonly kind: Kind;
  readonly fallback: string;
  readonly help: string;
}

export const SETTINGS: readonly Def[] = [
  { key: 'policies', flag: 'policies', kind: 'list', fallback: '', help: 'AuthPolicy/Secret YAML files or directories (repeatable, or comma separated)' },
  { key: 'kubernetes', flag: 'kubernetes', kind: 'bool', fallback: '', help: 'read AuthPolicies and Secrets from the Kubernetes API (default in a pod without --policies)' },
  { key: 'watchNamespaces', flag: 'watch-namespace', kind: 'list', fallback: '', help: 'namespaces to watch (default: all)' },
  { key: 'policySelector', flag: 'policy-selector', kind: 'string', fallback: '', help: 'label selector for AuthPolicies (sharding)' },
  { key: 'secretSelector', flag: 'secret-selector', kind: 'string', fallback: 'gatehouse.dev/credential', help: 'label selector for the Secrets gatehouse reads, applied by the API server (only these are held in memory)' },
  { key: 'grpcAddress', flag: 'grpc-address', kind: 'address', fallback: '0.0.0.0:9001', help: 'ext_authz gRPC listen address' },
  { key: 'adminAddress', flag: 'admin-address', kind: 'address', fallback: '0.0.0.0:9090', help: '/metrics, /healthz, /readyz listen address' },
  { key: 'logLevel', flag: 'log-level', kind: 'level', fallback: 'info', help: 'debug | info | warn | error' },
  { key: 'defaultDecision', flag: 'default-decision', kind: 'decision', fallback: 'deny', help: 'answer when no policy matches, or a Check has no HTTP request: deny | allow' },
  { key: 'maxRequestBytes', flag: 'max-request-bytes', kind: 'bytes', fallback: '8388608', help: 'largest CheckRequest accepted (request bodies forwarded by Envoy)' },
  { key: 'maxHeaderBytes', flag: 'max-header-bytes', kind: 'bytes', fallback: '65536', help: 'largest total size of request headers; beyond it the request is denied (431)' },
  { key: 'deadlineMarginMs', flag: 'deadline-margin', kind: 'duration', fallback: '10ms', help: 'answer a Check this long before its gRPC deadline' },
  { key: 'shutdownDelayMs', flag: 'shutdown-delay', kind: 'duration', fallback: '5s', help: 'after SIGTERM, keep answering while not ready so load balancers and Envoy move away' },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace', kind: 'duration', fallback: '20s', help: 'then, time for in-flight Checks before connections are closed' },
  { key: 'redisUrl', flag: 'redis-url', kind: 'string', fallback: '', help: 'Redis for sessions and revocation: redis://, rediss://, redis+sentinel://, redis+cluster://' },
  { key: 'watchStaleAfterMs', flag: 'watch-stale-after', kind: 'duration', fallback: '60s', help: 'log and alarm when a Kubernetes watch has been down this long' },
];

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function envName(flag: string): string {
  return `GATEHOUSE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Parses `--flag value`, `--flag=value` and bare boolean flags; returns settings and positional args. */
export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv): { settings: Settings; args: string[] } {
  const byFlag = new Map(SETTINGS.map((d) => [d.flag, d]));
  const given = new Map<string, string[]>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) {
      args.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    const def = byFlag.get(name);
    if (def === undefined) throw new SettingsError(`unknown flag --${name}`);
    let value: string;
    if (eq !== -1) value = a.slice(eq + 1);
    else if (def.kind === 'bool') value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new SettingsError(`--${name} needs a value`);
      value = next;
      i++;
    }
    const list = given.get(name) ?? [];
    list.push(value);
    given.set(name, list);
  }
  const out: Record<string, unknown> = {};
  for (const def of SETTINGS) {
    const fromFlag = given.get(def.flag);
    const fromEnv = env[envName(def.flag)];
    const where = fromFlag !== undefined ? `--${def.flag}` : `${envName(def.flag)}`;
    const raw = fromFlag ?? (fromEnv !== undefined ? [fromEnv] : [def.fallback]);
    out[def.key] = convert(def, raw, where);
  }
  if (given.get('kubernetes') === undefined && env[envName('kubernetes')] === undefined) {
    out.kubernetes = env.KUBERNETES_SERVICE_HOST !== undefined && (out.policies as string[]).length === 0;
  }
  out.redisUrl = out.redisUrl === '' ? undefined : out.redisUrl;
  return { settings: Object.freeze(out) as unknown as Settings, args };
}

function convert(def: Def, raw: readonly string[], where: string): unknown {
  const last = raw[raw.length - 1] ?? '';
  const bad = (why: string): never => {
    throw new SettingsError(`invalid ${where} (${def.key}): ${why}`);
  };
  switch (def.kind) {
    case 'string':
      return last.trim();
    case 'list':
      return raw.flatMap((r) => r.split(',')).map((s) => s.trim()).filter((s) => s !== '');
    case 'bool':
      if (['true', '1', 'yes'].includes(last.toLowerCase())) return true;
      if (['false', '0', 'no', ''].includes(last.toLowerCase())) return false;
      return bad(`"${last}" is not true or false`);
    case 'address': {
      const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(last);
      if (m === null || Number(m[2]) > 65535) return bad(`"${last}" is not host:port`);
      return last;
    }
    case 'duration': {
      const ms = parseDuration(last);
      return ms === undefined ? bad(`"${last}" is not a duration such as 250ms, 20s, 1m`) : ms;
    }
    case 'bytes': {
      if (!/^[0-9]+$/.test(last) || Number(last) < 1024 || Number(last) > 1 << 30) return bad(`"${last}" is not a byte count between 1024 and 1073741824`);
      return Number(last);
    }
    case 'level':
      return (LEVELS as string[]).includes(last) ? last : bad(`"${last}" is not one of ${LEVELS.join(', ')}`);
    case 'decision':
      return last === 'deny' || last === 'allow' ? last : bad(`"${last}" is not deny or allow`);
    default: {
      const never: never = def.kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}
