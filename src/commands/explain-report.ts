// An explanation as people read it: one block per phase, a table where there are several rows.
import type { Explanation, RouteCandidate, ShadowExplanation, TracedAnswer } from '../core/trace.js';

const INDENT = '         ';

/** Rows padded into aligned columns (the last column is not padded). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function block(title: string, lines: readonly string[]): string[] {
  return lines.map((l, i) => `${i === 0 ? title.padEnd(INDENT.length) : INDENT}${l}`);
}

const RESULT: Readonly<Record<RouteCandidate['result'], string>> = {
  chosen: 'chosen',
  evaluated: 'evaluated (shadow)',
  method_not_covered: 'method not covered',
  older_policy_wins: 'an older policy wins',
  less_specific: 'less specific',
};

export function renderExplanation(e: Explanation): string {
  const r = e.request;
  const out: string[] = [];
  out.push(...block('REQUEST', [`${r.method} ${r.host}${r.rawPath}${r.query === '' ? '' : `?${r.query}`}`, `path ${r.path}`, ...r.headers.map((h) => `${h.name}: ${h.value}`)]));
  out.push('', ...renderPhases(e));
  for (const s of e.shadows) out.push('', `SHADOW   ${s.policy?.id ?? '?'} (evaluated beside, dry run)`, ...renderPhases(s));
  return `${out.join('\n')}\n`;
}

function renderPhases(e: ShadowExplanation): string[] {
  const out: string[] = [];
  const route = e.route;
  const head = route.outcome === 'policy' ? `policy ${route.policy ?? ''}` : route.outcome.replace(/_/g, ' ');
  const candidates = route.candidates.map((c) => [c.policy, c.host, c.prefix, c.methods?.join(',') ?? 'all', c.createdAt ?? '-', c.enforcement, RESULT[c.result]]);
  out.push(...block('ROUTE', [head, ...(candidates.length === 0 ? [] : columns([['CANDIDATE', 'HOST', 'PREFIX', 'METHODS', 'CREATED', 'MODE', 'RESULT'], ...candidates]))]));
  const p = e.policy;
  if (p !== undefined) {
    out.push(...block('POLICY', [`${p.id} generation ${p.generation}, ${p.enforcement}, mode ${p.mode}, compared path ${p.comparedPath}${p.broken === undefined ? '' : `, INVALID: ${p.broken}`}`]));
  }
  if (e.endpoint !== undefined) out.push(...block('ENDPOINT', [`${e.endpoint} answered`]));
  if (e.skip.length > 0) {
    const rows = e.skip.map((s) => [String(s.rule), s.paths?.join(',') ?? 'all', s.methods?.join(',') ?? 'all', s.matched ? 'yes' : 'no']);
    out.push(...block('SKIP', columns([['RULE', 'PATHS', 'METHODS', 'MATCHED'], ...rows])));
  }
  const authn = e.authentication;
  if (authn !== undefined) {
    const rows = authn.methods.map((m) => [
      m.name,
      m.type,
      m.presented ?? '-',
      m.result.replace('_', ' '),
      m.identity === undefined ? (m.code ?? '') : `${m.identity.consumer}${m.identity.groups.length === 0 ? '' : ` (${m.identity.groups.join(', ')})`}`,
      m.detail ?? '',
    ]);
    const lines = rows.length === 0 ? [`mode ${authn.mode}, no method`] : columns([['METHOD', 'TYPE', 'PRESENTED', 'RESULT', 'CODE/CONSUMER', 'DETAIL'], ...rows]);
    if (authn.anonymous !== undefined) lines.push(`anonymous consumer ${authn.anonymous.consumer}: ${authn.anonymous.used ? 'used' : 'not used (a credential was presented)'}`);
    if (authn.respondedBy !== undefined) lines.push(`${authn.respondedBy} answered the unauthenticated request itself`);
    out.push(...block('AUTHN', lines));
  }
  if (e.authorization.length > 0) {
    const rows = e.authorization.map((a) => [a.rule, a.passed ? 'pass' : 'fail', a.code ?? '', a.detail ?? '']);
    out.push(...block('AUTHZ', columns([['RULE', 'RESULT', 'CODE', 'DETAIL'], ...rows])));
  }
  if (e.hooks.length > 0) out.push(...block('HOOKS', e.hooks.map((h) => `${h.name}: ${h.ran ? 'ran' : 'not run (dry run: no session created)'}`)));
  if (e.wouldBe !== undefined) out.push(...block('WOULD BE', [...answerLines(e.wouldBe), 'shadow mode: let through instead']));
  out.push(...block('ANSWER', answerLines(e.answer)));
  return out;
}

function answerLines(a: TracedAnswer): string[] {
  const who = [a.policy, a.method, a.consumer === undefined ? undefined : `consumer ${a.consumer}`].filter((x) => x !== undefined);
  const lines = [`${a.decision}${a.status === undefined ? '' : ` ${a.status}`} ${a.code}${who.length === 0 ? '' : ` (${who.join(', ')})`}`];
  if (a.detail !== undefined) lines.push(`detail: ${a.detail}`);
  for (const h of a.setHeaders) lines.push(`set ${h.name}: ${h.value}`);
  if (a.removeHeaders.length > 0) lines.push(`remove ${a.removeHeaders.join(', ')}`);
  if (a.removeQuery.length > 0) lines.push(`remove query ${a.removeQuery.join(', ')}`);
  for (const h of a.responseHeaders) lines.push(`response ${h.name}: ${h.value}`);
  if (a.body !== undefined && a.body !== '') lines.push(`body ${a.body}`);
  return lines;
}
