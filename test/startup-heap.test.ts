// The serving heap settings (service/startup-heap.ts): V8 knows the flags; with them the old
// generation, filled with objects that outlive two scavenges and then die (what grpc-js and HTTP/2
// leave under load), peaks well below where V8's default lets it go, and objects from a site whose
// allocations survive stay in the young generation instead of being pretenured. Each case runs in its
// own Node process, the one running the tests (Node 20 and the current LTS in CI).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const STARTUP_HEAP = fileURLToPath(new URL('../src/service/startup-heap.js', import.meta.url));

// 800,000 objects stay live; 12 million more each live through ~600,000 allocations, long enough to
// be promoted, then die. Prints the old space's peak and its lowest point after warming up, in bytes.
const CHURN = `
import { getHeapSpaceStatistics } from 'node:v8';
if (process.argv[1] === 'serving') {
  const { startingUp, startedUp } = await import(${JSON.stringify(STARTUP_HEAP)});
  startingUp();
  startedUp();
}
const oldUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_used_size;
const live = [];
for (let i = 0; i < 200_000; i++) live.push({ i, s: 'x' + i });
const ring = new Array(600_000).fill(null);
let peak = 0;
for (let i = 0; i < 12_000_000; i++) {
  ring[i % ring.length] = { i, a: i + 1 };
  if (i % 20_000 === 0) peak = Math.max(peak, oldUsed());
}
console.log(JSON.stringify({ peak, live: live.length + ring.length }));
`;

type Mode = 'serving' | 'default';

/** Runs a script in its own Node process; its stdout (JSON) and stderr. */
function child<T>(script: string, mode: Mode, nodeFlags: readonly string[]): { out: T; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script, mode], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `child (${mode}) exited ${String(r.status)}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout) as T, stderr: r.stderr };
}

function churn(mode: Mode, nodeFlags: readonly string[] = []): { peak: number; stderr: string } {
  const { out, stderr } = child<{ peak: number; live: number }>(CHURN, mode, nodeFlags);
  assert.equal(out.live, 800_000);
  return { peak: out.peak, stderr };
}

/**
 * One case with the serving settings, with V8's defaults, and with the serving settings under a node
 * flag that says otherwise (which they must leave as given).
 */
function threeWays<T extends { stderr: string }>(run: (mode: Mode, nodeFlags: readonly string[]) => T, nodeFlag: string): { serving: T; byDefault: T; chosen: T } {
  const serving = run('serving', []);
  // An unknown flag would be printed by V8 ("unrecognized flag") and ignored.
  assert.equal(serving.stderr, '');
  const byDefault = run('default', []);
  const chosen = run('serving', [nodeFlag]);
  assert.equal(chosen.stderr, '');
  return { serving, byDefault, chosen };
}

describe('the heap while serving', () => {
  it('V8 accepts the serving flags; the old generation peaks well below its default under churn, unless node was told otherwise', { timeout: 180_000 }, () => {
    // `node --heap-growing-percent=0` (V8's own heuristics) is left as given.
    const { serving, byDefault, chosen } = threeWays(churn, '--heap-growing-percent=0');
    const MB = (n: number): string => `${(n / (1024 * 1024)).toFixed(0)} MB`;
    const peaks = `old space peak: serving ${MB(serving.peak)}, V8's default ${MB(byDefault.peak)}, serving under --heap-growing-percent=0 ${MB(chosen.peak)}`;
    assert.ok(serving.peak < 0.7 * byDefault.peak, peaks);
    assert.ok(serving.peak < 0.7 * chosen.peak, peaks);
  });
});

// 6 million objects from one allocation site, all kept. V8's default pretenures the site after a few
// scavenges find them alive, so the rest are allocated in the old generation and scavenges stop;
// without pretenuring every one passes through the young generation. Prints the minor collections.
// V8 decides to pretenure only at a scavenge of a young generation grown to its maximum, and how
// fast it grows there depends on timing (on a busy machine Node 26 had not pretenured after 6 million
// objects), so each child runs with its young generation fixed at the maximum size from the start.
const SURVIVORS = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
if (process.argv[1] === 'serving') {
  const { startingUp, startedUp } = await import(${JSON.stringify(STARTUP_HEAP)});
  startingUp();
  startedUp();
}
let minor = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
});
observer.observe({ entryTypes: ['gc'] });
const kept = new Array(6_000_000);
const make = (i) => ({ i, next: null });
for (let i = 0; i < kept.length; i++) kept[i] = make(i);
setTimeout(() => console.log(JSON.stringify({ minor, kept: kept.length })), 50);
`;

const FIXED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

function survivors(mode: Mode, nodeFlags: readonly string[] = []): { minor: number; stderr: string } {
  const { out, stderr } = child<{ minor: number; kept: number }>(SURVIVORS, mode, [...FIXED_YOUNG_GENERATION, ...nodeFlags]);
  assert.equal(out.kept, 6_000_000);
  return { minor: out.minor, stderr };
}

describe('allocation sites while serving', () => {
  it('are not pretenured: surviving objects keep passing through the young generation, unless node was told otherwise', { timeout: 120_000 }, () => {
    // `node --allocation-site-pretenuring` (V8's default, said explicitly) is left as given.
    const { serving, byDefault, chosen } = threeWays(survivors, '--allocation-site-pretenuring');
    const counts = `minor collections: serving ${serving.minor}, V8's default ${byDefault.minor}, serving under --allocation-site-pretenuring ${chosen.minor}`;
    assert.ok(serving.minor >= 4 * byDefault.minor, counts);
    assert.ok(serving.minor >= 4 * chosen.minor, counts);
  });
});
