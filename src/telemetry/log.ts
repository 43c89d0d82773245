// JSON lines on stdout. Callers pass fields, never raw requests; values under credential-looking keys
// are redacted all the same, so a slip cannot log a key or token.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Readonly<Record<Level, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LEVELS = Object.keys(RANK) as Level[];

const SENSITIVE = /^(authorization|cookie|set-cookie|apikey|api_key|api-key|password|secret|token|access_token|id_token|refresh_token|client_secret|key)$/i;

export type Fields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: Level;
  enabled(level: Level): boolean;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export type Sink = (line: string) => void;

export function createLogger(level: Level, sink: Sink = (l) => process.stdout.write(l + '\n'), base: Fields = {}): Logger {
  const min = RANK[level];
  const write = (lvl: Level, msg: string, fields?: Fields): void => {
    if (RANK[lvl] < min) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...redact(base), ...redact(fields) }));
  };
  return {
    level,
    enabled: (lvl) => RANK[lvl] >= min,
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  };
}

function redact(fields: Fields | undefined): Fields {
  if (fields === undefined) return {};
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    let value = v;
    if (SENSITIVE.test(k)) value = '[redacted]';
    else if (v instanceof Error) value = { name: v.name, message: v.message };
    if (value !== v) (out ??= { ...fields })[k] = value;
  }
  return out ?? fields;
}

export const silentLogger: Logger = createLogger('error', () => undefined);
