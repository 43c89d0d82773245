// Command line and BENCH_* environment -> validated run options. Flags win over the environment.
import { parseDuration } from '../src/core/duration.js';
import type { BenchOptions } from './harness.js';
import { EXTRA_SCENARIOS, SCENARIOS, type Scenario } from './scenarios.js';

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
  readonly code = 'bench_usage';
}

export interface CliOptions {
  readonly bench: BenchOptions;
  readonly json: boolean;
  readonly help: boolean;
}

/** `--quick`: one round of short windows over two scenarios (one per transport), for the tests. */
export const QUICK = { rounds: 1, durationMs: 300, warmupMs: 200, scenarios: ['api-key allow (1 policy)', 'forward-auth allow'] } as const;

export const USAGE = `usage: npm run bench -- [flags]

  --rounds <n>        interleaved no-op/gatehouse windows per measure, best kept (BENCH_ROUNDS, default 6)
  --duration <d>      each throughput and latency window (BENCH_DURATION, default 1s; 2.5 means seconds)
  --warmup <d>        warm-up before each window (BENCH_WARMUP, default 250ms)
  --rate-duration <d> each fixed-rate window, percentiles and allocation (BENCH_RATE_DURATION, default 2s)
  --settle <d>        load, discarded, on each new server before its first window (BENCH_SETTLE, default 5s)
  --deadline <d>      grpc-timeout on every Check, like Envoy's ext_authz timeout (BENCH_DEADLINE, default 1s)
  --scenario <text>   run only scenarios whose name contains the text (repeatable; also the extra ones)
  --quick             1 round of ${QUICK.durationMs} ms windows over ${QUICK.scenarios.join(', ')} (unless --scenario says)
  --time-limit <d>    abort the whole run past this (BENCH_TIME_LIMIT, default from the plan)
  --json              print the report as JSON instead of the tables
  --list              print the scenario names

scenarios (default):
${SCENARIOS.map((s) => `  ${s.name}`).join('\n')}
extra scenarios (with --scenario):
${EXTRA_SCENARIOS.map((s) => `  ${s.name}`).join('\n')}
`;

const FLAGS = ['rounds', 'duration', 'warmup', 'rate-duration', 'settle', 'deadline', 'scenario', 'time-limit'] as const;
type Flag = (typeof FLAGS)[number];
const isFlag = (s: string): s is Flag => (FLAGS as readonly string[]).includes(s);

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions & { readonly list: boolean } {
  const given = new Map<Flag, string[]>();
  let json = false;
  let help = false;
  let list = false;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--list') list = true;
    else if (a === '--quick') quick = true;
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
  // Many short windows rather than a few long ones: the VM's speed moves from one second to the next
  // (one no-op process served 7.1k to 17.7k req/s in 1 s windows of one run), and the best of more
  // windows is nearer the machine's quiet speed. Two identical no-op processes in 24 alternating 1 s
  // windows: the ratio of their bests of 3 ranged 0.80-1.60, of 6 0.92-1.01 (bench/README.md).
  const durationMs = duration(pick('duration'), quick ? QUICK.durationMs : 1000, 100);
  const warmupMs = duration(pick('warmup'), quick ? QUICK.warmupMs : 250, 0);
  const rateDurationMs = duration(pick('rate-duration'), quick ? QUICK.durationMs : 2000, 100);
  const settleMs = duration(pick('settle'), quick ? 0 : 5000, 0);
  const rounds = count(pick('rounds'), quick ? QUICK.rounds : 6, 1, 20);
  const deadlineMs = duration(pick('deadline'), 1000, 10);
  const texts = given.get('scenario') ?? [];
  const scenarios = select(texts.length === 0 && quick ? QUICK.scenarios : texts);
  // Budget: 6 windows a round (throughput and latency for the floor, gatehouse and the same-process
  // floor) and 2 fixed-rate ones per scenario, 0.8 s each of verification and h2load start, plus
  // server start-up (10,000 policies compile); settling: gatehouse once per scenario at most, the
  // floor once per transport. A scenario with a signature floor: 2 windows a round more, its start-up
  // and its settling.
  const windows = 6 * rounds * (warmupMs + durationMs + 800) + 2 * (warmupMs + rateDurationMs + 800);
  const signed = scenarios.filter((s) => s.signatureFloor !== undefined).length;
  const plan =
    30_000 +
    scenarios.length * (windows + 8_000) +
    (scenarios.length + 2) * (settleMs + 800) +
    signed * (2 * rounds * (warmupMs + durationMs + 800) + 8_000 + settleMs + 800);
  const timeLimitMs = duration(pick('time-limit'), plan, 1000);
  return { bench: { scenarios, rounds, durationMs, warmupMs, rateDurationMs, settleMs, deadlineMs, timeLimitMs }, json, help, list };
}

function duration(v: [string, string] | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const [text, where] = v;
  const ms = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Math.round(Number(text) * 1000) : parseDuration(text);
  if (ms === undefined || ms < min) throw new BenchUsageError(`${where}: "${text}" is not a duration of at least ${min} ms (e.g. 500ms, 5s, 2.5)`);
  return ms;
}

/** A whole number flag (`[text, where it came from]`), or `fallback` when absent. */
export function count(v: [string, string] | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const [text, where] = v;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) throw new BenchUsageError(`${where}: "${text}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** The default scenarios, or those (default or extra) whose names contain any of the texts, in table order. */
export function select(texts: readonly string[], table: readonly Scenario[] = [...SCENARIOS, ...EXTRA_SCENARIOS]): Scenario[] {
  if (texts.length === 0) return [...SCENARIOS];
  const matches = (s: Scenario, t: string): boolean => s.name.toLowerCase().includes(t.toLowerCase());
  for (const t of texts) {
    if (!table.some((s) => matches(s, t))) throw new BenchUsageError(`--scenario "${t}" matches no scenario`);
  }
  return table.filter((s) => texts.some((t) => matches(s, t)));
}
