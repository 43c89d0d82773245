// How much heap a list of kept values holds: `body` (an ES module's statements, run in a child node
// with --expose-gc) pushes what it keeps onto `kept`; the heap is measured after full collections
// before and after it. `setup` runs before the first measure (imports, a warm-up call: what a module
// allocates once is not what the kept values hold). Retention tests use it to show that a kept value
// does not hold its source.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';

export interface KeptHeap {
  /** Heap bytes still used after `body`, over what was used before it. */
  readonly grown: number;
  /** How many values `body` kept. */
  readonly kept: number;
}

export function keptHeap(setup: string, body: string, timeoutMs = 50_000): KeptHeap {
  const script = `
    ${setup}
    const kept = [];
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    ${body}
    globalThis.gc();
    console.log(JSON.stringify({ grown: process.memoryUsage().heapUsed - before, kept: kept.length }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: timeoutMs });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as KeptHeap;
}
