// `gatehouse test` once its command line is read (test.ts): load the policies as serve does (offline),
// read the test files, decide each request in a dry run and compare the answer with the expectation.
import { writeFileSync } from 'node:fs';
import { explainDecision } from '../core/explain.js';
import { readRequest } from '../core/explain-request.js';
import type { Decision } from '../core/decision.js';
import { Pipeline } from '../core/pipeline.js';
import { compactPhases } from '../core/trace-recorder.js';
import { defaultJwtServices } from '../authn/jwt/services.js';
import type { FlagValues } from '../args/flags.js';
import { type LoadedPolicies, withPolicies } from './explain-policies.js';
import type { CommandIo } from './io.js';
import { Credentials } from './test-credentials.js';
import { readTestFiles, type Expectation, type TestCase } from './test-file.js';
import { renderJunit, renderTable, type TestResult } from './test-report.js';
import type { TEST_FLAGS } from './test.js';

const COMMAND = 'gatehouse test';

export async function testCommand(paths: readonly string[], flags: FlagValues<typeof TEST_FLAGS>, io: CommandIo): Promise<number> {
  return withPolicies(flags.policies, { online: false, env: io.env }, io, COMMAND, async (loaded) => {
    const files = readTestFiles(paths);
    const results: TestResult[] = files.problems.map((p) => ({ origin: p.origin, suite: '', name: 'test file', status: 'error', expected: '', got: '', mismatches: [p.message], seconds: 0 }));
    const run = new Runner(loaded, flags.defaultDecision, flags.policies.join(', '));
    for (const c of files.cases) results.push(await run.one(c));
    if (flags.json) io.stdout(`${JSON.stringify({ tests: results, ...counts(results) }, null, 2)}\n`);
    else io.stdout(renderTable(results));
    if (flags.junit !== undefined) writeFileSync(flags.junit, renderJunit(results));
    return results.every((r) => r.status === 'pass') ? 0 : 1;
  });
}

export function counts(results: readonly TestResult[]): { passed: number; failed: number; errors: number } {
  return {
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    errors: results.filter((r) => r.status === 'error').length,
  };
}

class Runner {
  readonly #loaded: LoadedPolicies;
  readonly #pipeline: Pipeline;
  readonly #credentials: Credentials;

  constructor(loaded: LoadedPolicies, onNoPolicy: 'deny' | 'allow', where: string) {
    this.#loaded = loaded;
    this.#pipeline = new Pipeline({ onNoPolicy });
    this.#credentials = new Credentials(loaded.files, loaded.env.jwt ?? defaultJwtServices(), where);
  }

  async one(c: TestCase): Promise<TestResult> {
    const started = performance.now();
    const base = { origin: c.origin, suite: c.suite, name: c.name, expected: summary(c.expect) };
    const resolved = await this.#credentials.resolve(c.request, 'request');
    const read = resolved.ok ? readRequest(resolved.request, 'request.') : { ok: false as const, problems: resolved.problems };
    if (!read.ok) return { ...base, status: 'error', got: '', mismatches: [...read.problems], seconds: seconds(started) };
    const { explanation, decision } = await explainDecision(this.#pipeline, this.#loaded.index, read.init, Date.now());
    const mismatches = compare(c.expect, decision);
    return {
      ...base,
      status: mismatches.length === 0 ? 'pass' : 'fail',
      got: got(decision),
      mismatches,
      phases: compactPhases(explanation),
      seconds: seconds(started),
    };
  }
}

function seconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}

/** What did not match, one line each; empty when the answer is as expected. */
export function compare(e: Expectation, d: Decision): string[] {
  const out: string[] = [];
  if (d.kind !== e.kind) return [`decision: expected ${e.kind}, got ${got(d)}`];
  const check = (field: string, want: unknown, have: unknown): void => {
    if (want !== undefined && want !== have) out.push(`${field}: expected ${show(want)}, got ${show(have)}`);
  };
  check('code', e.code, d.code);
  check('policy', e.policy, d.policy);
  let headers: readonly { name: string; value: string }[];
  if (e.kind === 'allow' && d.kind === 'allow') {
    check('consumer', e.consumer, d.identity?.consumerId ?? null);
    headers = d.setHeaders;
  } else if (e.kind === 'deny' && d.kind === 'deny') {
    check('status', e.status, d.status);
    check('body', e.body, d.body);
    headers = d.headers;
  } else headers = [];
  for (const [name, want] of Object.entries(e.headers)) {
    const values = headers.filter((h) => h.name === name).map((h) => h.value);
    const have = values.length === 0 ? null : values.join(', ');
    if (want !== have) out.push(`header ${name}: expected ${show(want)}, got ${show(have)}`);
  }
  return out;
}

function show(v: unknown): string {
  return v === null ? 'none' : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function summary(e: Expectation): string {
  if (e.kind === 'allow') return ['allow', e.code, e.consumer === undefined ? undefined : (e.consumer ?? 'no identity')].filter((x) => x !== undefined).join(' ');
  return ['deny', e.status, e.code].filter((x) => x !== undefined).join(' ');
}

function got(d: Decision): string {
  if (d.kind === 'allow') return `allow ${d.code} ${d.identity?.consumerId ?? 'no identity'}`;
  return `deny ${d.status} ${d.code}`;
}
