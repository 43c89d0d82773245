// `node dist/bench/promotion.js [rounds]`: what each Check leaves to V8's old generation, with and
// without the transport's release of a closed stream's call (src/transport/grpc-release.ts).
// Each round starts one server process per variant, alternately: `served` is startGrpcServer as
// gatehouse runs it, `bare` the same Check handler on a grpc-js server without the release; both with
// the no-op engine and allocation sites not pretenured (as `serve` runs). h2load keeps 64 Checks in
// flight on one connection for 1 s of warm-up and a 2 s window; V8's GC profiler adds up what the
// window's scavenges moved to the old generation. One server per process: a second load in the same
// process starts from the heap the first one left.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GCProfiler } from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import { CheckHandler } from '../src/transport/grpc-check.js';
import { AUTHORIZATION_DEFINITION } from '../src/transport/grpc-services.js';
import { startGrpcServer } from '../src/transport/grpc.js';
import { buildCheckRequest, checkMethod } from '../test/support/envoy-client.js';
import { pin, SERVER_CPU } from './affinity.js';
import { frame } from './channel-http2.js';
import { h2loadAvailable, runH2load } from './h2load.js';
import { median } from './harness.js';
import { DEADLINE_MARGIN_MS, MAX_HEADER_BYTES, MAX_REQUEST_BYTES } from './in-process.js';
import { NoopEngine } from './noop-engine.js';

const PATH = '/envoy.service.auth.v3.Authorization/Check';
const KINDS = ['served', 'bare'] as const;
type Kind = (typeof KINDS)[number];

interface Probe {
  readonly checks: number;
  readonly scavenges: number;
  readonly promotedPerCheck: number;
  readonly scavengeMicrosPerCheck: number;
}

interface SpaceRecord {
  readonly spaceName: string;
  readonly spaceUsedSize: number;
}
interface GcRecord {
  readonly gcType: string;
  readonly cost: number;
  readonly beforeGC: { readonly heapSpaceStatistics: readonly SpaceRecord[] };
  readonly afterGC: { readonly heapSpaceStatistics: readonly SpaceRecord[] };
}

function oldSpaces(spaces: readonly SpaceRecord[]): number {
  let used = 0;
  for (const s of spaces) if (s.spaceName === 'old_space' || s.spaceName === 'lo_space') used += s.spaceUsedSize;
  return used;
}

/** h2load at 64 in flight on one connection for `seconds`; the Checks answered. */
async function load(port: number, file: string, seconds: number): Promise<number> {
  const headers = ['content-type: application/grpc', 'te: trailers', 'grpc-timeout: 1000m'];
  const r = await runH2load({ url: `http://127.0.0.1:${port}${PATH}`, h1: false, bodyFile: file, headers, connections: 1, inFlight: 64, durationMs: seconds * 1000, warmupMs: 0 });
  if (r.failed !== 0 || r.succeeded !== r.done) throw new Error(`h2load: ${r.failed} of ${r.done} Checks without an answer`);
  return r.succeeded;
}

async function serve(kind: Kind): Promise<{ readonly port: number; close(): Promise<void> }> {
  const engine = new NoopEngine();
  if (kind === 'served') {
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: MAX_REQUEST_BYTES, maxHeaderBytes: MAX_HEADER_BYTES, deadlineMarginMs: DEADLINE_MARGIN_MS });
    server.setServing(true);
    return { port: server.port, close: () => server.close(1000) };
  }
  const bare = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  bare.addService(AUTHORIZATION_DEFINITION, { Check: new CheckHandler(engine, MAX_HEADER_BYTES, DEADLINE_MARGIN_MS, undefined).handle });
  const port = await new Promise<number>((resolve, reject) => {
    bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err)));
  });
  return { port, close: async () => bare.forceShutdown() };
}

/** The child: one server, one window; prints a Probe as JSON. */
async function probe(kind: Kind, file: string): Promise<void> {
  pin(process.pid, SERVER_CPU);
  const server = await serve(kind);
  try {
    await load(server.port, file, 1);
    const profiler = new GCProfiler();
    profiler.start();
    const checks = await load(server.port, file, 2);
    const statistics: readonly GcRecord[] = profiler.stop()?.statistics ?? [];
    let scavenges = 0;
    let promoted = 0;
    let micros = 0;
    for (const gc of statistics) {
      if (gc.gcType !== 'Scavenge') continue;
      scavenges++;
      micros += gc.cost;
      promoted += oldSpaces(gc.afterGC.heapSpaceStatistics) - oldSpaces(gc.beforeGC.heapSpaceStatistics);
    }
    const result: Probe = { checks, scavenges, promotedPerCheck: promoted / checks, scavengeMicrosPerCheck: micros / checks };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await server.close();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [first, file] = argv;
  if (first === 'served' || first === 'bare') {
    if (file === undefined) throw new Error('usage: promotion.js <served|bare> <CheckRequest file>');
    return probe(first, file);
  }
  const rounds = first === undefined ? 6 : Number(first);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('usage: node dist/bench/promotion.js [rounds]');
  if (!h2loadAvailable()) throw new Error('h2load is missing: bash scripts/system-deps.sh installs it');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-promotion-'));
  try {
    const body = join(dir, 'check.bin');
    writeFileSync(body, frame(checkMethod().requestSerialize(buildCheckRequest({ host: 'api.example.com', path: '/orders' }))));
    const self = fileURLToPath(import.meta.url);
    const runs: Record<Kind, Probe[]> = { served: [], bare: [] };
    console.log(`node ${process.version}, ${rounds} rounds; per Check: bytes promoted by scavenges, scavenge µs`);
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
        const { stdout } = await promisify(execFile)(process.execPath, ['--no-allocation-site-pretenuring', self, kind, body], { timeout: 60_000 });
        const p = JSON.parse(stdout) as Probe;
        runs[kind].push(p);
        console.log(`  round ${round + 1} ${kind.padEnd(6)} ${Math.round(p.promotedPerCheck).toString().padStart(6)} B  ${p.scavengeMicrosPerCheck.toFixed(1).padStart(5)} µs  (${p.checks} Checks, ${p.scavenges} scavenges)`);
      }
    }
    for (const kind of KINDS) {
      const r = runs[kind];
      console.log(`${kind.padEnd(6)} median ${Math.round(median(r.map((p) => p.promotedPerCheck)))} B promoted, ${median(r.map((p) => p.scavengeMicrosPerCheck)).toFixed(1)} µs of scavenges per Check; range ${Math.round(Math.min(...r.map((p) => p.promotedPerCheck)))}-${Math.round(Math.max(...r.map((p) => p.promotedPerCheck)))} B`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
