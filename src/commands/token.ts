// `gatehouse token mint|revoke`: issue a token with a policy's jwt method, or revoke tokens in the
// Redis revocation list every replica reads. Policies and Secrets are read from files, exactly as
// `serve --policies` would compile them.
import { JwtAuthenticator } from '../authn/jwt/authenticator.js';
import { createJwtServices, type JwtServices } from '../authn/jwt/services.js';
import { MintError, mintToken } from '../authn/jwt/mint.js';
import { parseDuration } from '../core/duration.js';
import { compilePolicy } from '../policy/compile.js';
import { formatProblem } from '../config/problems.js';
import { SecretIndex } from '../config/secrets.js';
import { listManifestFiles, loadFiles } from '../sources/files.js';

export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const PROCESS_IO: CommandIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  env: process.env,
};

export const TOKEN_USAGE = `usage:
  gatehouse token mint   --policies <file|dir> --policy NS/NAME --method NAME --consumer ID
                         [--username U] [--custom-id C] [--groups a,b] [--claim name=value]... [--ttl 1h] [--json]
  gatehouse token revoke --policies <file|dir> --policy NS/NAME --method NAME
                         (--jti ID | --consumer ID [--before <RFC 3339 time>|now]) [--ttl D] [--redis-url URL]

mint prints a token signed with the method's signingKeyRef or HMAC secret.
revoke writes to the Redis revocation list (--redis-url or GATEHOUSE_REDIS_URL); --ttl defaults to the
method's maxLifetime + clockSkew (required for --jti without maxLifetime).
`;

class UsageError extends Error {}

const FLAGS = new Set(['policies', 'policy', 'method', 'consumer', 'username', 'custom-id', 'groups', 'claim', 'ttl', 'json', 'jti', 'before', 'redis-url']);
const BOOLEAN = new Set(['json']);

type Flags = Map<string, string[]>;

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    if (!FLAGS.has(name)) throw new UsageError(`unknown flag --${name}`);
    let value: string;
    if (eq !== -1) value = a.slice(eq + 1);
    else if (BOOLEAN.has(name)) value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      value = next;
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return flags;
}

function one(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  if (v !== undefined && v.length > 1) throw new UsageError(`--${name} given more than once`);
  return v?.[0];
}

function required(flags: Flags, name: string): string {
  const v = one(flags, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function durationFlag(flags: Flags, name: string): number | undefined {
  const v = one(flags, name);
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name}: "${v}" is not a duration such as 30m or 24h`);
  return ms;
}

export async function runTokenCommand(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const [sub, ...rest] = argv;
  const services = createJwtServices({ jwks: { offline: true }, env: io.env, redisUrl: undefined, tokenCacheSize: 0 });
  try {
    switch (sub) {
      case 'mint':
        return await mint(parseFlags(rest), services, io);
      case 'revoke':
        return await revoke(parseFlags(rest), services, io);
      case undefined:
      case 'help':
      case '--help':
        io.stdout(TOKEN_USAGE);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown token command "${sub}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`gatehouse token: ${e.message}\n${TOKEN_USAGE}`);
      return 2;
    }
    if (e instanceof CommandError || e instanceof MintError) {
      io.stderr(`gatehouse token: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await services.close();
  }
}

class CommandError extends Error {}

/** Compiles the named policy from files and returns its jwt method. */
function loadMethod(flags: Flags, services: JwtServices): JwtAuthenticator {
  const paths = (flags.get('policies') ?? []).flatMap((p) => p.split(',')).filter((p) => p !== '');
  if (paths.length === 0) throw new UsageError('--policies is required');
  const id = required(flags, 'policy');
  const methodName = required(flags, 'method');
  let files: string[];
  try {
    files = listManifestFiles(paths);
  } catch (e) {
    throw new CommandError(`--policies: ${(e as Error).message}`);
  }
  const loaded = loadFiles(files);
  const secrets = new SecretIndex();
  for (const s of loaded.secrets) secrets.put(s);
  const res = loaded.policies.find((p) => `${p.namespace}/${p.name}` === id || (!id.includes('/') && p.name === id));
  if (res === undefined) throw new CommandError(`no AuthPolicy ${id} in ${paths.join(', ')} (give NAMESPACE/NAME)`);
  const result = compilePolicy(res, secrets, { clock: Date.now, jwt: services });
  if (!result.ok) {
    throw new CommandError(`AuthPolicy ${id} does not compile:\n${result.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
  const method = result.policy.authenticators.find((a) => a.name === methodName);
  if (method === undefined) throw new CommandError(`AuthPolicy ${id} has no method named ${methodName}`);
  if (!(method instanceof JwtAuthenticator)) throw new CommandError(`method ${methodName} of ${id} is not a jwt method`);
  return method;
}

async function mint(flags: Flags, services: JwtServices, io: CommandIo): Promise<number> {
  const method = loadMethod(flags, services);
  const claims: Record<string, unknown> = {};
  for (const c of flags.get('claim') ?? []) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim "${c}": expected name=value`);
    claims[c.slice(0, eq)] = c.slice(eq + 1);
  }
  const groups = one(flags, 'groups');
  const minted = await mintToken(method, {
    consumer: {
      id: required(flags, 'consumer'),
      username: one(flags, 'username'),
      customId: one(flags, 'custom-id'),
      groups: groups === undefined ? undefined : groups.split(',').map((g) => g.trim()).filter((g) => g !== ''),
    },
    ttlMs: durationFlag(flags, 'ttl') ?? 3_600_000,
    claims,
  });
  if (one(flags, 'json') === 'true') {
    io.stdout(JSON.stringify({ token: minted.token, jti: minted.jti, expiresAt: new Date(minted.expiresAt).toISOString() }) + '\n');
  } else {
    io.stdout(minted.token + '\n');
  }
  return 0;
}

async function revoke(flags: Flags, services: JwtServices, io: CommandIo): Promise<number> {
  const url = one(flags, 'redis-url') ?? io.env['GATEHOUSE_REDIS_URL'];
  if (url === undefined || url === '') {
    throw new UsageError('--redis-url (or GATEHOUSE_REDIS_URL) is required: an in-memory revocation list lives only inside the serving process');
  }
  const method = loadMethod(flags, services);
  if (!method.config.revocation) throw new CommandError(`method ${method.name} of ${method.policyId} has revocation: false; revoking would change nothing`);
  const jti = one(flags, 'jti');
  const consumer = one(flags, 'consumer');
  if ((jti === undefined) === (consumer === undefined)) throw new UsageError('give exactly one of --jti and --consumer');
  const max = method.config.rules.maxLifetimeMs;
  const ttl = durationFlag(flags, 'ttl') ?? (max === undefined ? undefined : max + method.config.rules.skewMs);
  const list = createJwtServices({ redisUrl: url, jwks: { offline: true }, tokenCacheSize: 0 });
  try {
    await list.revocation.ready(5000);
    if (jti !== undefined) {
      if (ttl === undefined) throw new UsageError('--ttl is required with --jti when the method has no maxLifetime');
      await list.revocation.revokeToken(method.config.scope, jti, ttl);
      io.stdout(`revoked token ${jti} of ${method.policyId} ${method.name} for ${Math.round(ttl / 1000)}s\n`);
    } else if (consumer !== undefined) {
      const before = parseBefore(one(flags, 'before'));
      await list.revocation.revokeConsumer(method.config.scope, consumer, before, ttl);
      io.stdout(`revoked tokens of consumer ${consumer} issued before ${new Date(before).toISOString()} (${method.policyId} ${method.name})\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new CommandError(`revocation failed: ${(e as Error).message}`);
  } finally {
    await list.close();
  }
}

function parseBefore(text: string | undefined): number {
  if (text === undefined || text === 'now') return Date.now();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new UsageError(`--before "${text}": expected an RFC 3339 time such as 2025-01-31T12:00:00Z, or now`);
  }
  return Date.parse(text);
}
