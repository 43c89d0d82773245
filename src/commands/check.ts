// `gatehouse check`: try a policy without Envoy. Sends one Check, built from flags as Envoy builds it
// for a request, to a running server's gRPC port and prints the decision: the headers set and removed
// on the way to the upstream, or the status, headers and body the client gets. This module is light
// (table, help, parsing); check-run.ts, which speaks gRPC, loads once the command line is good.
import { address, bool, duration, last, no, ok, oneOf, text, type ValueType } from '../args/flag-types.js';
import { type Flag, type FlagValues, renderHelp } from '../args/flags.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';

export interface RequestHeader {
  readonly name: string;
  readonly value: string;
}

// RFC 9110 token characters: what a header name may hold.
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/** `-H 'name: value'` as curl takes it, repeatable; names lowercased as Envoy passes them. */
const headers: ValueType<readonly RequestHeader[]> = {
  metavar: "'<name>: <value>'",
  parse: (texts) => {
    const out: RequestHeader[] = [];
    for (const t of texts) {
      const m = HEADER.exec(t);
      const name = (m?.[1] ?? '').toLowerCase();
      if (m === null) return no(`"${t}" is not "name: value"`);
      if (name === 'host') return no('give the host with --host');
      out.push({ name, value: m[2] ?? '' });
    }
    return ok(out);
  },
};

const path: ValueType<string> = {
  metavar: '<path>',
  parse: (t) => {
    const v = last(t);
    return v.startsWith('/') ? ok(v) : no(`"${v}" does not start with /`);
  },
};

const method: ValueType<string> = {
  metavar: '<method>',
  parse: (t) => {
    const v = last(t);
    return /^[A-Za-z]+$/.test(v) ? ok(v.toUpperCase()) : no(`"${v}" is not an HTTP method`);
  },
};

export const CHECK_FLAGS = [
  { key: 'host', flag: 'host', type: text, metavar: '<host>', required: true, help: 'the request host (a port after it is ignored by routing)' },
  { key: 'path', flag: 'path', type: path, fallback: '/', help: 'the request path, query included' },
  { key: 'method', flag: 'method', type: method, fallback: 'GET', help: 'the request method' },
  { key: 'headers', flag: 'header', short: 'H', type: headers, help: 'a request header (repeatable)' },
  { key: 'scheme', flag: 'scheme', type: oneOf(['https', 'http'] as const), fallback: 'https', help: 'the scheme the client used' },
  { key: 'grpcAddress', flag: 'grpc-address', type: address, fallback: '127.0.0.1:9001', help: "the server's ext_authz gRPC port (serve --grpc-address)" },
  { key: 'timeoutMs', flag: 'timeout', type: duration(1), fallback: '5s', help: 'how long to wait for the answer' },
  { key: 'json', flag: 'json', type: bool, help: 'print the decision as JSON' },
] as const satisfies readonly Flag[];

export type CheckValues = FlagValues<typeof CHECK_FLAGS>;

export const CHECK_HELP = renderHelp({
  usage: ["gatehouse check --host <host> [--path <path>] [--method <method>] [-H 'name: value']..."],
  about: [
    'Asks a running gatehouse (gatehouse serve) about one request, as Envoy would, and prints the',
    'decision: on allow, the headers set and removed on the way to the upstream; on deny, the status,',
    'headers and body the client gets. Exits 0 when the request is allowed, 1 when it is denied,',
    '2 when the command line is wrong, 3 when no decision came (server not reachable, timeout).',
  ].join('\n'),
  sections: [{ title: 'flags', rows: CHECK_FLAGS }],
});

export async function runCheck(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine(CHECK_FLAGS, argv, io, CHECK_HELP, { command: 'gatehouse check' });
  if (typeof line === 'number') return line;
  return (await import('./check-run.js')).check(line.values, io);
}
