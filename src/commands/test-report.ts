// What `gatehouse test` prints: a table (a failing test's mismatches and phases under its row), or
// JUnit XML for CI (one testsuite per AuthPolicyTest document).
import { columns } from './explain-report.js';

export interface TestResult {
  /** `file#doc`. */
  readonly origin: string;
  readonly suite: string;
  readonly name: string;
  /** `error`: the test could not run (a test file problem, a credential that cannot be made). */
  readonly status: 'pass' | 'fail' | 'error';
  readonly expected: string;
  readonly got: string;
  readonly mismatches: readonly string[];
  /** The decision's phase codes (`route=... authn=... answer=...`). */
  readonly phases?: string;
  readonly seconds: number;
}

const MARK: Readonly<Record<TestResult['status'], string>> = { pass: 'pass', fail: 'FAIL', error: 'ERROR' };

export function renderTable(results: readonly TestResult[]): string {
  const rows = [['RESULT', 'TEST', 'EXPECTED', 'GOT'], ...results.map((r) => [MARK[r.status], `${r.origin} ${r.name}`, r.expected, r.got])];
  const lines: string[] = [];
  columns(rows).forEach((line, i) => {
    lines.push(line);
    const r = results[i - 1];
    if (r === undefined || r.status === 'pass') return;
    for (const m of r.mismatches) lines.push(`    ${m}`);
    if (r.phases !== undefined) lines.push(`    phases: ${r.phases}`);
  });
  const failed = results.filter((r) => r.status === 'fail').length;
  const errors = results.filter((r) => r.status === 'error').length;
  lines.push(`${results.length} tests, ${results.length - failed - errors} passed, ${failed} failed${errors === 0 ? '' : `, ${errors} errors`}`);
  return `${lines.join('\n')}\n`;
}

export function renderJunit(results: readonly TestResult[]): string {
  const suites = new Map<string, TestResult[]>();
  for (const r of results) {
    const key = r.suite === '' ? r.origin : `${r.origin} ${r.suite}`;
    suites.set(key, [...(suites.get(key) ?? []), r]);
  }
  const total = (list: readonly TestResult[]): string =>
    `tests="${list.length}" failures="${list.filter((r) => r.status === 'fail').length}" errors="${list.filter((r) => r.status === 'error').length}" time="${time(list)}"`;
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="gatehouse test" ${total(results)}>`];
  for (const [name, list] of suites) {
    out.push(`  <testsuite name="${xml(name)}" ${total(list)}>`);
    for (const r of list) {
      const open = `    <testcase classname="${xml(r.suite === '' ? r.origin : r.suite)}" name="${xml(r.name)}" time="${r.seconds.toFixed(3)}"`;
      if (r.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      const tag = r.status === 'fail' ? 'failure' : 'error';
      const message = r.status === 'fail' ? `expected ${r.expected}, got ${r.got}` : (r.mismatches[0] ?? 'error');
      const body = [...r.mismatches, ...(r.phases === undefined ? [] : [`phases: ${r.phases}`])].join('\n');
      out.push(`${open}>`, `      <${tag} message="${xml(message)}" type="${r.status === 'fail' ? 'mismatch' : 'test_error'}">${xml(body)}</${tag}>`, '    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function time(list: readonly TestResult[]): string {
  return list.reduce((s, r) => s + r.seconds, 0).toFixed(3);
}

/** Text for XML attributes and content: markup escaped, characters XML 1.0 cannot hold dropped. */
function xml(s: string): string {
  return s
    .replace(/[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
