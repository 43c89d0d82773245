// On a machine with two or more cores, the servers get core 0 and the load generator (h2load, and this
// process that waits for it) core 1, so neither steals the other's core and runs compare like with like.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const usable = availableParallelism() >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

/** Whether processes can be pinned here (taskset from util-linux, two cores or more). */
export function pinnable(): boolean {
  return usable;
}

/** Pins a process (all its threads) to one CPU; returns whether it could. */
export function pin(pid: number, cpu: number): boolean {
  if (!usable) return false;
  return spawnSync('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}

/** The processes `pid` started, and theirs, from /proc (none when it cannot be read). */
export function descendants(pid: number): number[] {
  let direct: number[] = [];
  try {
    direct = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((s) => s !== '').map(Number),
    );
  } catch {
    return [];
  }
  return direct.flatMap((child) => [child, ...descendants(child)]);
}

export const SERVER_CPU = 0;
export const LOAD_CPU = 1;
