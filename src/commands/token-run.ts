// `gatehouse token mint|revoke` once its command line is read (token.ts): compile the named policy
// from files, then mint with its jwt method or write to the Redis revocation list.
import { JwtAuthenticator } from '../authn/jwt/authenticator.js';
import { createJwtServices, type JwtServices } from '../authn/jwt/services.js';
import { MintError, mintToken } from '../authn/jwt/mint.js';
import { compilePolicy } from '../policy/compile.js';
import { formatProblem } from '../config/problems.js';
import { SecretIndex } from '../config/secrets.js';
import { listManifestFiles, loadFiles, type LoadedFiles } from '../sources/files.js';
import { type FlagValues, UsageError } from '../args/flags.js';
import type { CommandIo } from './io.js';
import type { COMMON, MINT_FLAGS, REVOKE_FLAGS } from './token.js';

export function mint(flags: FlagValues<typeof MINT_FLAGS>, io: CommandIo): Promise<number> {
  return withServices(io, (services) => mintWith(flags, services, io));
}

export function revoke(flags: FlagValues<typeof REVOKE_FLAGS>, io: CommandIo): Promise<number> {
  return withServices(io, (services) => revokeWith(flags, services, io));
}

/** Runs with offline jwt services; a failure of the command itself is one line and exit 1. */
async function withServices(io: CommandIo, run: (services: JwtServices) => Promise<number>): Promise<number> {
  const services = createJwtServices({ jwks: { offline: true }, env: io.env, redisUrl: undefined, tokenCacheSize: 0 });
  try {
    return await run(services);
  } catch (e) {
    if (!(e instanceof CommandError || e instanceof MintError)) throw e;
    io.stderr(`gatehouse token: ${e.message}\n`);
    return 1;
  } finally {
    await services.close();
  }
}

/** A failure of the command itself (not of its command line): one line, exit 1. */
export class CommandError extends Error {}

/** Compiles the named policy from files and returns its jwt method. */
function loadMethod(flags: FlagValues<typeof COMMON>, services: JwtServices): JwtAuthenticator {
  const { policies: paths, policy: id, method: methodName } = flags;
  let files: string[];
  try {
    files = listManifestFiles(paths);
  } catch (e) {
    throw new CommandError(`--policies: ${(e as Error).message}`);
  }
  return jwtMethodIn(loadFiles(files), id, methodName, services, paths.join(', '));
}

/**
 * The jwt method `methodName` of policy `id` (namespace/name, or a name alone) among loaded policy
 * files, compiled as serve compiles it; a CommandError says why there is none. `where` names the files.
 */
export function jwtMethodIn(loaded: Pick<LoadedFiles, 'policies' | 'secrets'>, id: string, methodName: string, services: JwtServices, where: string): JwtAuthenticator {
  const secrets = new SecretIndex();
  for (const s of loaded.secrets) secrets.put(s);
  const res = loaded.policies.find((p) => `${p.namespace}/${p.name}` === id || (!id.includes('/') && p.name === id));
  if (res === undefined) throw new CommandError(`no AuthPolicy ${id} in ${where} (give NAMESPACE/NAME)`);
  const result = compilePolicy(res, secrets, { clock: Date.now, jwt: services });
  if (!result.ok) {
    throw new CommandError(`AuthPolicy ${id} does not compile:\n${result.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
  const method = result.policy.authenticators.find((a) => a.name === methodName);
  if (method === undefined) throw new CommandError(`AuthPolicy ${id} has no method named ${methodName}`);
  if (!(method instanceof JwtAuthenticator)) throw new CommandError(`method ${methodName} of ${id} is not a jwt method`);
  return method;
}

async function mintWith(flags: FlagValues<typeof MINT_FLAGS>, services: JwtServices, io: CommandIo): Promise<number> {
  const method = loadMethod(flags, services);
  const minted = await mintToken(method, {
    consumer: {
      id: flags.consumer,
      username: flags.username,
      customId: flags.customId,
      groups: flags.groups.length === 0 ? undefined : flags.groups,
    },
    ttlMs: flags.ttlMs,
    claims: flags.claims,
  });
  if (flags.json) {
    io.stdout(JSON.stringify({ token: minted.token, jti: minted.jti, expiresAt: new Date(minted.expiresAt).toISOString() }) + '\n');
  } else {
    io.stdout(minted.token + '\n');
  }
  return 0;
}

async function revokeWith(flags: FlagValues<typeof REVOKE_FLAGS>, services: JwtServices, io: CommandIo): Promise<number> {
  const url = flags.redisUrl;
  if (url === undefined) {
    throw new UsageError(['--redis-url (or GATEHOUSE_REDIS_URL) is required: an in-memory revocation list lives only inside the serving process']);
  }
  const { jti, consumer } = flags;
  if ((jti === undefined) === (consumer === undefined)) throw new UsageError(['give exactly one of --jti and --consumer']);
  const method = loadMethod(flags, services);
  if (!method.config.revocation) throw new CommandError(`method ${method.name} of ${method.policyId} has revocation: false; revoking would change nothing`);
  const max = method.config.rules.maxLifetimeMs;
  const ttl = flags.ttlMs ?? (max === undefined ? undefined : max + method.config.rules.skewMs);
  if (jti !== undefined && ttl === undefined) throw new UsageError(['--ttl is required with --jti when the method has no maxLifetime']);
  const list = createJwtServices({ redisUrl: url, jwks: { offline: true }, tokenCacheSize: 0 });
  try {
    await list.revocation.ready(5000);
    if (jti !== undefined && ttl !== undefined) {
      await list.revocation.revokeToken(method.config.scope, jti, ttl);
      io.stdout(`revoked token ${jti} of ${method.policyId} ${method.name} for ${Math.round(ttl / 1000)}s\n`);
    } else if (consumer !== undefined) {
      const before = flags.before === 'now' ? Date.now() : flags.before;
      await list.revocation.revokeConsumer(method.config.scope, consumer, before, ttl);
      io.stdout(`revoked tokens of consumer ${consumer} issued before ${new Date(before).toISOString()} (${method.policyId} ${method.name})\n`);
    }
    return 0;
  } catch (e) {
    throw new CommandError(`revocation failed: ${(e as Error).message}`);
  } finally {
    await list.close();
  }
}
