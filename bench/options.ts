// Command line and BENCH_* environment -> validated run options. Flags win over the environment.
import { parseDuration } from '../src/core/duration.js';
import { CLIENT_KINDS, type ClientKind } from './channel.js';
import type { BenchOptions } from './harness.js';
import { NOOP_SCENARIO, SCENARIOS, type Scenario } from './scenarios.js';

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
  readonly code = 'bench_usage';
}

// grpc-js's own per-call work makes it the bottleneck against a no-op server on one core (see README).
const DEFAULT_CLIENT: ClientKind = 'http2';

export interface CliOptions {
  readonly bench: BenchOptions;
  readonly json: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]

  --duration <d>      timed window per scenario (BENCH_DURATION, default 5s; 2.5 means seconds)
  --warmup <d>        warm-up before each window (BENCH_WARMUP, default 1s)
  --concurrency <n>   Checks in flight (BENCH_CONCURRENCY, default 64)
  --connections <n>   HTTP/2 connections they share (BENCH_CONNECTIONS, default 4)
  --client <kind>     grpc-js | http2: the load generator's gRPC client (BENCH_CLIENT, default http2)
  --deadline <d>      grpc-timeout on every Check, like Envoy's ext_authz timeout (BENCH_DEADLINE, default 1s)
  --scenario <text>   run only scenarios whose name contains the text (repeatable; no-op always runs)
  --time-limit <d>    abort the whole run past this (BENCH_TIME_LIMIT, default from the plan)
  --json              print the report as JSON instead of the table
  --list              print the scenario names

scenarios:
${SCENARIOS.map((s) => `  ${s.name}`).join('\n')}
`;

const FLAGS = ['duration', 'warmup', 'concurrency', 'connections', 'client', 'deadline', 'scenario', 'time-limit'] as const;
type Flag = (typeof FLAGS)[number];
const isFlag = (s: string): s is Flag => (FLAGS as readonly string[]).includes(s);

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions & { readonly list: boolean } {
  const given = new Map<Flag, string[]>();
  let json = false;
  let help = false;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--list') list = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      if (!isFlag(name)) throw new BenchUsageError(`unknown flag ${a}`);
      const value = eq === -1 ? argv[++i] : a.slice(eq + 1);
      if (value === undefined) throw new BenchUsageError(`--${name} needs a value`);
      given.set(name, [...(given.get(name) ?? []), value]);
    } else throw new BenchUsageError(`unexpected argument "${a}"`);
  }
  const pick = (flag: Flag): [string, string] | undefined => {
    const v = given.get(flag)?.at(-1);
    if (v !== undefined) return [v, `--${flag}`];
    const name = `BENCH_${flag.toUpperCase().replace(/-/g, '_')}`;
    const e = env[name];
    return e === undefined || e === '' ? undefined : [e, name];
  };
  const durationMs = duration(pick('duration'), 5000, 100);
  const warmupMs = duration(pick('warmup'), 1000, 0);
  const concurrency = count(pick('concurrency'), 64, 1, 10_000);
  const connections = count(pick('connections'), 4, 1, 256);
  const deadlineMs = duration(pick('deadline'), 1000, 10);
  const client = clientKind(pick('client'));
  const scenarios = select(given.get('scenario') ?? []);
  // Budget: each scenario's warm-up and window, plus slack for server start-up (10,000 policies compile).
  const plan = 30_000 + scenarios.length * (warmupMs + durationMs + 10_000);
  const timeLimitMs = duration(pick('time-limit'), plan, 1000);
  return { bench: { scenarios, client, durationMs, warmupMs, concurrency, connections, deadlineMs, timeLimitMs, closingFloor: true }, json, help, list };
}

function duration(v: [string, string] | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const [text, where] = v;
  const ms = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Math.round(Number(text) * 1000) : parseDuration(text);
  if (ms === undefined || ms < min) throw new BenchUsageError(`${where}: "${text}" is not a duration of at least ${min} ms (e.g. 500ms, 5s, 2.5)`);
  return ms;
}

function clientKind(v: [string, string] | undefined): ClientKind {
  if (v === undefined) return DEFAULT_CLIENT;
  const [text, where] = v;
  const kind = CLIENT_KINDS.find((k) => k === text);
  if (kind === undefined) throw new BenchUsageError(`${where}: "${text}" is not one of ${CLIENT_KINDS.join(', ')}`);
  return kind;
}

function count(v: [string, string] | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const [text, where] = v;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) throw new BenchUsageError(`${where}: "${text}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** Scenarios whose names contain any of the texts, in table order; the no-op baseline always runs first. */
export function select(texts: readonly string[], table: readonly Scenario[] = SCENARIOS): Scenario[] {
  if (texts.length === 0) return [...table];
  const picked = table.filter((s) => s.name === NOOP_SCENARIO || texts.some((t) => s.name.toLowerCase().includes(t.toLowerCase())));
  for (const t of texts) {
    if (!table.some((s) => s.name.toLowerCase().includes(t.toLowerCase()))) throw new BenchUsageError(`--scenario "${t}" matches no scenario`);
  }
  return picked;
}
