// A listener that cannot bind, reduced to one short reason ("address in use") that the composition
// root puts after the flag and address. Node errors carry `code`; grpc-js only has it in its message.
import { GatehouseError } from '../core/errors.js';

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

/** `listen_failed` whose message is the short reason; the system error stays as the cause. */
export function listenFailed(err: unknown): GatehouseError {
  const text = err instanceof Error ? err.message : String(err);
  const errno = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  const code = errno ?? /\b(E[A-Z_]{3,})\b/.exec(text)?.[1];
  const known = code === undefined ? undefined : REASONS[code];
  const reason = known ?? (/name resolution failed/i.test(text) ? 'host not found' : text);
  return new GatehouseError('listen_failed', reason, { cause: err });
}
