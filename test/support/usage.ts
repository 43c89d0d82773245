// The problems a command line is refused with, for tests of the flag tables.
import assert from 'node:assert/strict';
import { UsageError } from '../../src/args/flags.js';

/** Runs `read` and returns the problems of the UsageError it throws; fails the test when it accepts. */
export function usageProblems(read: () => unknown, what: string): readonly string[] {
  try {
    read();
  } catch (e) {
    if (e instanceof UsageError) return e.problems;
    throw e;
  }
  return assert.fail(`accepted: ${what}`);
}
