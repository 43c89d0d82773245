// `node dist/bench/engine-cpu.js`: what gatehouse adds to a Check, measured in one process without a
// network, where the VM's noise is smallest. For each gRPC scenario the same CheckRequest bytes go
// through the server side of a Check exactly as grpc-js hands them over: the request decoded as the server
// decodes it, the Check handler (CheckInput, engine, answer), the CheckResponse encoded.
// gatehouse's engine and the no-op engine take turns in short batches; each reports CPU µs and JS heap
// bytes per Check. What both leave out is the same: HTTP/2 framing and grpc-js's call objects.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { CheckEngine } from '../src/core/engine-port.js';
import { CheckHandler } from '../src/transport/grpc-check.js';
import { encodeCheckResponse } from '../src/transport/grpc-encode.js';
import { type CheckRequestFields, readCheckRequest } from '../src/transport/grpc-decode.js';
import type { CheckResponseMsg } from '../src/transport/grpc-protos.js';
import { buildCheckRequest, checkMethod, decodeCheckResponse } from '../test/support/envoy-client.js';
import { DEADLINE_MARGIN_MS, MAX_HEADER_BYTES, startAllocationCount, startBenchGatehouse, type BenchGatehouse } from './in-process.js';
import { NoopEngine } from './noop-engine.js';
import { BenchUsageError, count, select } from './options.js';
import type { Expectation, Scenario } from './scenarios.js';
import { mismatch } from './verify.js';

export const ENGINE_USAGE = `usage: node dist/bench/engine-cpu.js [--scenario <text>]... [--rounds <n>] [--batch-ms <ms>]
  --scenario <text>   gRPC scenarios whose names contain the text (default: the default gRPC ones)
  --rounds <n>        turns each engine takes per scenario; the median is printed (default 9)
  --batch-ms <ms>     CPU time of one turn (default 300)
`;

export interface EngineOptions {
  readonly scenarios: readonly Scenario[];
  readonly rounds: number;
  readonly batchMs: number;
}

export function parseEngineCli(argv: readonly string[]): EngineOptions {
  const texts: string[] = [];
  let rounds = 9;
  let batchMs = 300;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new BenchUsageError(`${String(flag)} needs a value`);
    i++;
    if (flag === '--scenario') texts.push(value);
    else if (flag === '--rounds') rounds = count([value, flag], rounds, 1, 99);
    else if (flag === '--batch-ms') batchMs = count([value, flag], batchMs, 10, 60_000);
    else throw new BenchUsageError(`unexpected argument "${String(flag)}"`);
  }
  const scenarios = select(texts).filter((s) => s.transport === 'grpc');
  if (scenarios.length === 0) throw new BenchUsageError('no gRPC scenario selected (forward-auth scenarios need the network)');
  return { scenarios, rounds, batchMs };
}

export interface EngineFigures {
  /** Median and lowest CPU µs per Check over the rounds. */
  readonly cpuMicros: number;
  readonly cpuMicrosMin: number;
  /** JS heap bytes allocated per Check, over one extra turn. */
  readonly bytesPerCheck: number;
}

export interface EngineResult {
  readonly name: string;
  readonly floor: EngineFigures;
  readonly gatehouse: EngineFigures;
  /** Median of gatehouse's CPU µs minus the floor's, round by round. */
  readonly addedMicros: number;
}

/** One engine behind the real Check handler, driven with decoded copies of one request's bytes. */
class Driver {
  readonly #handler: CheckHandler;
  readonly #bytes: Buffer;
  readonly #decode: (b: Buffer) => CheckRequestFields;
  last: Buffer | undefined;

  constructor(engine: CheckEngine, bytes: Buffer, decode: (b: Buffer) => CheckRequestFields) {
    this.#handler = new CheckHandler(engine, MAX_HEADER_BYTES, DEADLINE_MARGIN_MS, undefined);
    this.#bytes = bytes;
    this.#decode = decode;
  }

  /** One Check; a promise only when the engine answered asynchronously. */
  once(): Promise<void> | undefined {
    let settled = false;
    let wake: (() => void) | undefined;
    const call = { request: this.#decode(this.#bytes), getDeadline: () => Infinity } as unknown as grpc.ServerUnaryCall<CheckRequestFields, CheckResponseMsg>;
    this.#handler.handle(call, (error, response) => {
      if (error !== null || response === undefined || response === null) throw new Error(`the Check handler answered an error: ${String(error?.details)}`);
      this.last = encodeCheckResponse(response);
      settled = true;
      wake?.();
    });
    if (settled) return undefined;
    return new Promise<void>((resolve) => {
      wake = resolve;
    });
  }

  /** Checks until `cpuMs` of this process's CPU has gone by; CPU µs per Check. */
  async turn(cpuMs: number): Promise<number> {
    const start = process.cpuUsage();
    let n = 0;
    let used = 0;
    while (used < cpuMs * 1000) {
      for (let i = 0; i < 64; i++) {
        const pending = this.once();
        if (pending !== undefined) await pending;
      }
      n += 64;
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    return used / n;
  }

  /** JS heap bytes per Check over `checks` Checks. */
  async allocation(checks: number): Promise<number> {
    const count = startAllocationCount();
    for (let i = 0; i < checks; i++) {
      const pending = this.once();
      if (pending !== undefined) await pending;
    }
    return count().bytes / checks;
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

const NOOP_EXPECT: Expectation = { kind: 'allow', headers: {} };
const ALLOCATION_CHECKS = 20_000;

export async function runEngineBench(o: EngineOptions, say: (line: string) => void): Promise<EngineResult[]> {
  const method = await checkMethod();
  const decode = readCheckRequest;
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-engine-bench-'));
  const results: EngineResult[] = [];
  try {
    for (const [i, scenario] of o.scenarios.entries()) {
      const dir = join(root, String(i));
      mkdirSync(dir);
      await scenario.policies.write(dir);
      say(`starting gatehouse over ${scenario.policies.id}`);
      let g: BenchGatehouse | undefined;
      try {
        g = await startBenchGatehouse(dir);
        const spec = await scenario.request();
        const bytes = method.requestSerialize(buildCheckRequest(spec.http, spec.options ?? {}));
        const floor = new Driver(new NoopEngine(), bytes, decode);
        const gh = new Driver(g.engine, bytes, decode);
        const verify = (d: Driver, expect: Expectation, who: string): void => {
          if (d.last === undefined) throw new Error(`${scenario.name}: ${who} gave no answer`);
          const problem = mismatch(decodeCheckResponse(method.responseDeserialize(d.last)), expect);
          if (problem !== undefined) throw new Error(`${scenario.name}: ${who}: ${problem}`);
        };
        say(`running ${scenario.name}`);
        // Warm-up: both engines' code paths compiled, caches filled, before anything counts.
        await floor.turn(o.batchMs);
        await gh.turn(o.batchMs);
        const f: number[] = [];
        const h: number[] = [];
        for (let r = 0; r < o.rounds; r++) {
          f.push(await floor.turn(o.batchMs));
          verify(floor, NOOP_EXPECT, 'the no-op engine');
          h.push(await gh.turn(o.batchMs));
          verify(gh, scenario.expect, 'gatehouse');
        }
        const fb = await floor.allocation(ALLOCATION_CHECKS);
        const hb = await gh.allocation(ALLOCATION_CHECKS);
        results.push({
          name: scenario.name,
          floor: { cpuMicros: median(f), cpuMicrosMin: Math.min(...f), bytesPerCheck: fb },
          gatehouse: { cpuMicros: median(h), cpuMicrosMin: Math.min(...h), bytesPerCheck: hb },
          addedMicros: median(h.map((x, k) => x - (f[k] ?? Number.NaN))),
        });
      } finally {
        await g?.stop();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}

export function formatEngineTable(results: readonly EngineResult[], o: EngineOptions): string {
  const f1 = (n: number): string => n.toFixed(1);
  const head = ['scenario', 'floor µs', 'gatehouse µs', 'added µs', 'ratio', 'floor bytes', 'gatehouse bytes'];
  const rows = results.map((r) => [
    r.name,
    `${f1(r.floor.cpuMicros)} (min ${f1(r.floor.cpuMicrosMin)})`,
    `${f1(r.gatehouse.cpuMicros)} (min ${f1(r.gatehouse.cpuMicrosMin)})`,
    f1(r.addedMicros),
    (r.floor.cpuMicros / r.gatehouse.cpuMicros).toFixed(2),
    Math.round(r.floor.bytesPerCheck).toLocaleString('en-US'),
    Math.round(r.gatehouse.bytesPerCheck).toLocaleString('en-US'),
  ]);
  const widths = head.map((t, i) => Math.max(t.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    `node ${process.version}; in one process, no network: request decoded, Check handler, response encoded; ` +
      `${o.rounds} interleaved turns of ${o.batchMs} ms CPU per engine, median (min); bytes: JS heap allocated per Check over ${ALLOCATION_CHECKS.toLocaleString('en-US')} Checks; ` +
      `ratio = floor µs / gatehouse µs`,
    '',
    line(head),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

async function main(): Promise<number> {
  let o: EngineOptions;
  try {
    o = parseEngineCli(process.argv.slice(2));
  } catch (e) {
    if (e instanceof BenchUsageError) {
      process.stderr.write(`engine bench: ${e.message}\n\n${ENGINE_USAGE}`);
      return 2;
    }
    throw e;
  }
  const results = await runEngineBench(o, (line) => process.stderr.write(`engine bench: ${line}\n`));
  process.stdout.write(`${formatEngineTable(results, o)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`engine bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
