// The docs hold to the code: every whole manifest they show passes `gatehouse validate`, every field of
// the CRD is explained somewhere, and the tables of metrics, alerts and commands list what exists.
//
// Rules the docs are written to:
// - A ```yaml block whose first line that is not a comment starts with `apiVersion:` is a whole
//   manifest (or several, with ---). The AuthPolicies and Secrets of one document are validated
//   together; any other kind (an Istio AuthorizationPolicy) is left alone. A block that is not whole
//   is a snippet and must not look like a manifest: no top-level `kind:` line.
// - A CRD field is documented when its last two path segments appear dotted in the text
//   (`jwt.secretEncoding`) or as a key under its parent key in some YAML block of the docs.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { validatePaths } from '../src/commands/validate.js';
import { authPolicyCrd } from '../src/policy/crd.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { dirWith, ROOT } from './support/cli.js';

interface Block {
  readonly doc: string;
  /** 1-based line of the block's first line of YAML in its document. */
  readonly line: number;
  readonly text: string;
}

const DOCS = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort();
const TEXT = new Map(DOCS.map((d) => [d, readFileSync(join(ROOT, 'docs', d), 'utf8')]));

function yamlBlocks(doc: string): Block[] {
  const text = TEXT.get(doc) ?? '';
  return [...text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => ({ doc, line: text.slice(0, m.index).split('\n').length + 1, text: m[1] ?? '' }));
}

const isWhole = (b: Block): boolean => /^apiVersion:/.test(b.text.split('\n').find((l) => l.trim() !== '' && !l.trimStart().startsWith('#')) ?? '');
const OURS = /^kind: (AuthPolicy|Secret)\s*$/m;

describe('manifests in the docs', () => {
  it('a block that is not a whole manifest does not look like one (no top-level kind)', () => {
    const lookalikes = DOCS.flatMap(yamlBlocks).filter((b) => !isWhole(b) && /^kind:/m.test(b.text));
    assert.deepEqual(lookalikes.map((b) => `docs/${b.doc}:${b.line}`), []);
  });

  it('there are whole AuthPolicy manifests to check', () => {
    const whole = DOCS.flatMap(yamlBlocks).filter((b) => isWhole(b) && /^kind: AuthPolicy\s*$/m.test(b.text));
    assert.ok(whole.length >= 5, `${whole.length} whole AuthPolicy manifests in docs/*.md`);
  });

  for (const doc of DOCS) {
    const blocks = yamlBlocks(doc).filter((b) => isWhole(b) && OURS.test(b.text));
    if (blocks.length === 0) continue;
    it(`docs/${doc}: its ${blocks.length} whole manifests pass gatehouse validate together (placeholder secrets are the only warnings)`, async () => {
      const dir = dirWith({});
      for (const b of blocks) writeFileSync(join(dir, `line-${String(b.line).padStart(4, '0')}.yaml`), b.text);
      const report = await validatePaths([dir]);
      const unexpected = report.lines.filter((l) => !/: warning: looks like a placeholder/.test(l)).map((l) => l.replace(`${dir}/line-`, `docs/${doc}, block at line `));
      assert.deepEqual(unexpected, []);
      assert.equal(report.errors, 0);
    });
  }
});

/** `parent.field` for every field of the CRD's spec, array levels left out. */
function crdFields(): string[][] {
  const out: string[][] = [];
  const walk = (schema: unknown, path: string[]): void => {
    if (typeof schema !== 'object' || schema === null) return;
    const s = schema as { properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[]; oneOf?: unknown[]; allOf?: unknown[] };
    for (const [name, sub] of Object.entries(s.properties ?? {})) {
      out.push([...path, name]);
      walk(sub, [...path, name]);
    }
    walk(s.items, path);
    for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) walk(branch, path);
  };
  const crd = authPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: unknown } } } }[] } };
  walk(crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec, ['spec']);
  return out;
}

/** Every `parent.key` pair of mapping keys in every YAML block of the docs (sequence levels skipped). */
function yamlKeyPairs(): Set<string> {
  const pairs = new Set<string>();
  const walk = (node: unknown, parent: string): void => {
    if (isSeq(node)) for (const item of node.items) walk(item, parent);
    if (!isMap(node)) return;
    for (const p of node.items) {
      if (!isPair(p) || !isScalar(p.key)) continue;
      const key = String(p.key.value);
      pairs.add(`${parent}.${key}`);
      walk(p.value, key);
    }
  };
  for (const b of DOCS.flatMap(yamlBlocks)) for (const d of parseAllDocuments(b.text)) walk(d.contents, '');
  return pairs;
}

describe('every CRD field is explained in the docs', () => {
  it('by its last two segments, dotted in the text or as a key under its parent in an example', () => {
    const text = [...TEXT.values()].join('\n');
    const pairs = yamlKeyPairs();
    const fields = crdFields();
    assert.ok(fields.length > 150, `${fields.length} fields`);
    const missing = fields
      .map((f) => f.slice(-2).join('.'))
      .filter((pair, i, all) => all.indexOf(pair) === i)
      .filter((pair) => !text.includes(pair) && !pairs.has(pair));
    assert.deepEqual(missing, []);
  });
});

describe('the tables in docs/deploy.md', () => {
  const deploy = TEXT.get('deploy.md') ?? '';
  const tableNames = (pattern: RegExp): string[] => [...deploy.matchAll(pattern)].map((m) => m[1] ?? '').sort();

  it('the metrics table lists every metric gatehouse exports, and no other', async () => {
    const exported = (await new Metrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name).sort();
    assert.deepEqual(tableNames(/^\| `(gatehouse_\w+)` \|/gm), exported);
  });

  it('the alerts table lists every alert of deploy/monitoring/alerts.yaml, and no other', () => {
    const rules = readFileSync(join(ROOT, 'deploy', 'monitoring', 'alerts.yaml'), 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1] ?? '').sort();
    assert.deepEqual(tableNames(/^\| `(Gatehouse\w+)` \|/gm), alerts);
  });
});
