// The collections after the first sync (sources/settle-memory.ts): after a burst of allocation that
// grew V8's young generation, the second collection, after a quiet spell, gives it back, and nothing
// that is still referenced is lost.
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, it } from 'node:test';
import { settleMemory } from '../src/sources/settle-memory.js';

const MB = 1024 * 1024;

function newSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  assert.ok(space !== undefined, 'V8 reports a new_space');
  return space.space_size;
}

/** What a sync does to the heap: many objects, most of them kept. */
function burst(): Array<{ readonly i: number; readonly name: string }> {
  const kept: Array<{ readonly i: number; readonly name: string }> = [];
  for (let i = 0; i < 600_000; i++) {
    const item = { i, name: `secret-${i}` };
    if (i % 4 !== 0) kept.push(item);
  }
  return kept;
}

describe('memory after the first sync', () => {
  it('the young generation grown by a burst of allocation is given back after the quiet spell', { timeout: 60_000 }, async () => {
    const kept = burst();
    const grown = newSpaceBytes();
    assert.ok(grown >= 8 * MB, `the burst grows the young generation (${grown} bytes)`);
    const heard: string[] = [];
    const shrunk = new Promise<void>((resolve) => {
      const can = settleMemory(
        (collection) => {
          heard.push(collection);
          if (collection === 'shrink') resolve();
        },
        { settleAfterMs: 0, shrinkAfterMs: 8000 },
      );
      assert.equal(can, true);
    });
    // An unref'd timer alone does not keep the test alive.
    const alive = setInterval(() => undefined, 1000);
    await shrunk;
    clearInterval(alive);
    assert.deepEqual(heard, ['settle', 'shrink']);
    const after = newSpaceBytes();
    assert.ok(after <= 2 * MB, `young generation ${after} bytes after the collections (was ${grown})`);
    assert.equal(kept.length, 450_000);
    assert.deepEqual(kept[449_999], { i: 599_999, name: 'secret-599999' });
  });
});
