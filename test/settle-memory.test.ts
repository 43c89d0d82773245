// The collections after the first sync (sources/settle-memory.ts): after a burst of allocation that
// grew V8's young generation, the early attempt gives it back within a few seconds (node 26's
// last-resort collection, or node 20's minor collections then a full one); without it, the collection
// after a quiet spell of seconds does. Nothing that is still referenced is lost. None of them stops a
// server that is busy serving.
import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, it } from 'node:test';
import { loopBusy, settleMemory, settleMemoryLogged, type SettleTimes } from '../src/sources/settle-memory.js';

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

/** Runs settleMemory after a burst; resolves with what it heard and the ms from 'settle' to 'shrink'. */
async function settleAfterBurst(times: SettleTimes): Promise<{ heard: string[]; shrinkMs: number; grown: number; kept: ReturnType<typeof burst> }> {
  const kept = burst();
  const grown = newSpaceBytes();
  assert.ok(grown >= 8 * MB, `the burst grows the young generation (${grown} bytes)`);
  const heard: string[] = [];
  let settledAt = Number.NaN;
  const shrunk = new Promise<number>((resolve) => {
    const can = settleMemory((collection) => {
      heard.push(collection);
      if (collection === 'settle') settledAt = performance.now();
      if (collection === 'shrink') resolve(performance.now() - settledAt);
    }, times);
    assert.equal(can, true);
  });
  // An unref'd timer alone does not keep the test alive.
  const alive = setInterval(() => undefined, 1000);
  const shrinkMs = await shrunk;
  clearInterval(alive);
  return { heard, shrinkMs, grown, kept };
}

function assertGivenBack(grown: number, kept: ReturnType<typeof burst>): void {
  const after = newSpaceBytes();
  assert.ok(after <= 2 * MB, `young generation ${after} bytes after the collections (was ${grown})`);
  assert.equal(kept.length, 450_000);
  assert.deepEqual(kept[449_999], { i: 599_999, name: 'secret-599999' });
}

describe('memory after the first sync', () => {
  it('the young generation grown by a burst of allocation is given back within seconds of the first collection', { timeout: 60_000 }, async () => {
    // The quiet spell of seconds is set past the test's timeout: only the early attempt can pass.
    const { heard, shrinkMs, grown, kept } = await settleAfterBurst({ settleAfterMs: 0, shrinkAfterMs: 120_000, quietGapMs: 100 });
    assert.deepEqual(heard, ['settle', 'shrink']);
    assert.ok(shrinkMs < 5000, `given back ${Math.round(shrinkMs)} ms after the first collection`);
    assertGivenBack(grown, kept);
  });

  it('without the early attempt, the collection after a quiet spell of seconds gives it back', { timeout: 60_000 }, async () => {
    const { heard, shrinkMs, grown, kept } = await settleAfterBurst({ settleAfterMs: 0, shrinkAfterMs: 8000 });
    assert.deepEqual(heard, ['settle', 'shrink']);
    assert.ok(shrinkMs >= 8000, `given back ${Math.round(shrinkMs)} ms after the first collection, not before the quiet spell`);
    assertGivenBack(grown, kept);
  });
});

/** Awaits `p` with the process kept alive: settleMemory's timers alone do not. */
async function keptAlive<T>(p: Promise<T>): Promise<T> {
  const alive = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(alive);
  }
}

/** Forced collections (V8's `gc()`) that node reports while `during` runs. */
async function forcedCollections(during: () => Promise<void>): Promise<number> {
  let forced = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const flags: unknown = 'detail' in e && typeof e.detail === 'object' && e.detail !== null && 'flags' in e.detail ? e.detail.flags : 0;
      if (typeof flags === 'number' && (flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) forced++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    await during();
    // gc entries are delivered after the collection, on a later turn of the loop.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    observer.disconnect();
  }
  return forced;
}

/** Runs settleMemory with the given times and busy predicate until it hears 'shrink' or 'busy'. */
function settleHeard(times: SettleTimes, busy: () => boolean): Promise<string[]> {
  const heard: string[] = [];
  return keptAlive(
    new Promise<string[]>((resolve) => {
      settleMemory(
        (c) => {
          heard.push(c);
          if (c !== 'settle') resolve(heard);
        },
        times,
        busy,
      );
    }),
  );
}

describe('memory after the first sync, on a busy server', () => {
  it('the event loop counts as busy after 50 ms of work in 60, not after 300 ms of idling', async () => {
    const busy = loopBusy();
    const until = performance.now() + 50;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(busy(), true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(busy(), false);
  });

  it('forces no collection while the server is busy, and gives up after its tries', { timeout: 10_000 }, async () => {
    let looks = 0;
    let heard: string[] = [];
    const forced = await forcedCollections(async () => {
      heard = await settleHeard({ settleAfterMs: 0, shrinkAfterMs: 120_000, quietGapMs: 100, busyRetryMs: 50, busyTries: 5 }, () => {
        looks++;
        return true;
      });
    });
    assert.deepEqual(heard, ['busy']);
    assert.equal(looks, 5);
    assert.equal(forced, 0);
  });

  it('waits while busy, then collects once the server is quiet', { timeout: 60_000 }, async () => {
    const kept = burst();
    const grown = newSpaceBytes();
    let looks = 0;
    let heard: string[] = [];
    const forced = await forcedCollections(async () => {
      // Busy at the first three looks (the settle collection waits), quiet from then on.
      heard = await settleHeard({ settleAfterMs: 0, shrinkAfterMs: 120_000, quietGapMs: 100, busyRetryMs: 50, busyTries: 5 }, () => ++looks <= 3);
    });
    assert.deepEqual(heard, ['settle', 'shrink']);
    assert.ok(looks > 4, `${looks} looks`);
    assert.ok(forced >= 1, `${forced} forced collections`);
    assertGivenBack(grown, kept);
  });

  it('the collection after a quiet spell waits while the server is busy', { timeout: 60_000 }, async () => {
    burst();
    let looks = 0;
    const started = performance.now();
    // Quiet for the first collection (a look before it, one after), busy at the next two looks.
    const heard = await settleHeard({ settleAfterMs: 0, shrinkAfterMs: 300 }, () => {
      looks++;
      return looks === 3 || looks === 4;
    });
    assert.deepEqual(heard, ['settle', 'shrink']);
    assert.equal(looks, 6);
    assert.ok(performance.now() - started >= 900, 'three quiet spells of 300 ms went by');
  });

  it('a server busy at every later attempt gets the first collection only', { timeout: 60_000 }, async () => {
    burst();
    let looks = 0;
    let heard: string[] = [];
    const forced = await forcedCollections(async () => {
      heard = await settleHeard({ settleAfterMs: 0, shrinkAfterMs: 100 }, () => ++looks > 2);
    });
    assert.deepEqual(heard, ['settle', 'busy']);
    assert.equal(looks, 5);
    assert.equal(forced, 1);
  });

  it('the log says how it ended: settled with the RSS, or left to V8 on a server that stayed busy', { timeout: 60_000 }, async () => {
    const ended = (load: string, times: SettleTimes, busy: () => boolean): Promise<Array<{ message: string; fields: Record<string, unknown> }>> => {
      const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
      return keptAlive(
        new Promise((resolve) => {
          const logger = {
            info: (message: string, fields?: Record<string, unknown>): void => {
              lines.push({ message, fields: fields ?? {} });
              resolve(lines);
            },
          };
          assert.equal(settleMemoryLogged(load, logger, times, busy), true);
        }),
      );
    };
    const busy = await ended('load', { settleAfterMs: 0, shrinkAfterMs: 120_000, busyRetryMs: 20, busyTries: 3 }, () => true);
    assert.equal(busy.length, 1);
    assert.equal(busy[0]?.message, 'memory left to V8 after the first load: the server stayed busy, no forced collection');
    assert.deepEqual(Object.keys(busy[0]?.fields ?? {}), ['rssMb']);
    assert.ok(Number.isInteger(busy[0]?.fields['rssMb']) && (busy[0]?.fields['rssMb'] as number) > 10, `rssMb ${String(busy[0]?.fields['rssMb'])}`);
    const settled = await ended('sync', { settleAfterMs: 0, shrinkAfterMs: 50 }, () => false);
    assert.equal(settled.length, 1);
    assert.equal(settled[0]?.message, 'memory settled after the first sync');
    assert.ok(Number.isInteger(settled[0]?.fields['rssMb']) && (settled[0]?.fields['rssMb'] as number) > 10, `rssMb ${String(settled[0]?.fields['rssMb'])}`);
  });
});
