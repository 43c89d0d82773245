// `npm run bench:promotion`: one round runs a server process per variant under h2load and prints, for
// each, the bytes per Check its scavenges moved to the old generation, then the medians. What the
// figures are is bench/README.md's business; here, that the tool runs, answers every Check and prints
// well-formed, plausible lines, and refuses a bad round count.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const TOOL = fileURLToPath(new URL('../bench/promotion.js', import.meta.url));
const run = promisify(execFile);

describe('bench:promotion', { timeout: 60_000 }, () => {
  test('one round: a line per variant, then a median per variant', async () => {
    const { stdout } = await run(process.execPath, [TOOL, '1'], { timeout: 50_000 });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 5, stdout);
    assert.equal(lines[0], `node ${process.version}, 1 rounds; per Check: bytes promoted by scavenges, scavenge µs`);
    for (const [i, kind] of [[1, 'served'], [2, 'bare']] as const) {
      const m = new RegExp(`^  round 1 ${kind} +(-?\\d+) B +(\\d+\\.\\d) µs  \\((\\d+) Checks, (\\d+) scavenges\\)$`).exec(lines[i] ?? '');
      assert.ok(m !== null, lines[i]);
      assert.ok(Number(m[3]) >= 1000, `${m[3]} Checks in 2 s`);
      assert.ok(Number(m[4]) >= 1, `${m[4]} scavenges`);
      assert.ok(Math.abs(Number(m[1])) < 100_000, `${m[1]} B per Check`);
    }
    assert.match(lines[3] ?? '', /^served median -?\d+ B promoted, \d+\.\d µs of scavenges per Check; range -?\d+--?\d+ B$/);
    assert.match(lines[4] ?? '', /^bare {3}median -?\d+ B promoted, \d+\.\d µs of scavenges per Check; range -?\d+--?\d+ B$/);
  });

  test('a round count that is not a positive whole number is refused', async () => {
    await assert.rejects(run(process.execPath, [TOOL, '0']), (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, 1);
      assert.match(String((err as { stderr?: unknown }).stderr), /usage: node dist\/bench\/promotion\.js \[rounds\]/);
      return true;
    });
  });
});
