// The CRD is generated from the schema the server validates with, is structural, and accepts the
// shipped examples (checked with a JSON Schema validator over the CRD's own OpenAPI schema).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { authPolicyCrd, authPolicyCrdYaml } from '../src/policy/crd.js';
import { validateSpec } from '../src/policy/validate.js';
import { listManifestFiles } from '../src/sources/files.js';

const ROOT = join(import.meta.dirname, '..', '..');

type Node = { [k: string]: unknown };

function walk(node: unknown, path: string, visit: (n: Node, path: string) => void): void {
  if (typeof node !== 'object' || node === null) return;
  const n = node as Node;
  visit(n, path);
  if (typeof n.properties === 'object' && n.properties !== null) {
    for (const [k, v] of Object.entries(n.properties as Node)) walk(v, `${path}.${k}`, visit);
  }
  if (n.items !== undefined) walk(n.items, `${path}[]`, visit);
  if (typeof n.additionalProperties === 'object') walk(n.additionalProperties, `${path}{}`, visit);
}

function openApiSchema(): Node {
  const crd = authPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
  const v = crd.spec.versions[0];
  assert.ok(v);
  return v.schema.openAPIV3Schema;
}

describe('AuthPolicy CRD', () => {
  it('the committed CRD files are exactly what `gatehouse crd` generates', () => {
    const generated = authPolicyCrdYaml();
    assert.equal(readFileSync(join(ROOT, 'deploy', 'crds', 'authpolicies.gatehouse.dev.yaml'), 'utf8'), generated, 'run npm run gen:crd');
    assert.equal(readFileSync(join(ROOT, 'charts', 'gatehouse', 'crds', 'authpolicies.gatehouse.dev.yaml'), 'utf8'), generated, 'run npm run gen:crd');
    const crd = parse(generated) as { spec: { names: { shortNames: string[] }; versions: { additionalPrinterColumns: { name: string }[]; subresources: unknown }[] } };
    assert.deepEqual(crd.spec.names.shortNames, ['ghp']);
    assert.deepEqual(crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name), ['Ready', 'Reason', 'Mode', 'Hosts', 'Age']);
    assert.deepEqual(crd.spec.versions[0]?.subresources, { status: {} });
  });

  it('is a structural schema: every node typed, no const, anyOf, patternProperties or additionalProperties false', () => {
    const bad: string[] = [];
    walk(openApiSchema(), '', (n, path) => {
      if (n.type === undefined && n['x-kubernetes-preserve-unknown-fields'] !== true) bad.push(`${path}: no type`);
      for (const k of ['const', 'anyOf', 'oneOf', 'patternProperties', '$id', 'allOf']) if (k in n) bad.push(`${path}: ${k}`);
      if (n.additionalProperties === false) bad.push(`${path}: additionalProperties false`);
      if (n.properties !== undefined && typeof n.additionalProperties === 'object') bad.push(`${path}: properties with additionalProperties`);
    });
    assert.deepEqual(bad, []);
  });

  it('every field, at every depth, spec and status alike, carries a description (list items and map values are described by their field)', () => {
    const missing: string[] = [];
    let fields = 0;
    walk(openApiSchema(), '', (n, path) => {
      if (path === '' || path.endsWith('[]') || path.endsWith('{}')) return;
      fields++;
      if (typeof n.description !== 'string' || n.description.trim() === '') missing.push(path);
    });
    assert.deepEqual(missing, []);
    assert.ok(fields > 100, `fields walked: ${fields}`);
  });

  it('hosts is a set and status conditions a map keyed by type, so the API server refuses repeats', () => {
    const root = openApiSchema() as { properties: { spec: { properties: Record<string, Node> }; status: { properties: Record<string, Node> } } };
    const hosts = root.properties.spec.properties.hosts;
    assert.equal(hosts?.['x-kubernetes-list-type'], 'set');
    assert.equal(hosts?.uniqueItems, undefined, 'a CRD may not carry uniqueItems');
    const conditions = root.properties.status.properties.conditions;
    assert.equal(conditions?.['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions?.['x-kubernetes-list-map-keys'], ['type']);
    // A map key must be required in every item, or the API server rejects the CRD.
    assert.deepEqual((conditions?.items as Node).required, ['type', 'status']);
  });

  it('gatehouse validate refuses a repeated host as the API server would', () => {
    const repeated = validateSpec({ hosts: ['shop.example.com', 'api.example.com', 'shop.example.com'], authentication: { methods: [] } });
    assert.equal(repeated.ok, false);
    assert.deepEqual(repeated.ok ? [] : repeated.problems.items.map((p) => [p.path, p.message]), [['spec.hosts', 'Expected array elements to be unique']]);
    assert.equal(validateSpec({ hosts: ['shop.example.com', 'api.example.com'], authentication: { methods: [] } }).ok, true);
  });

  it('accepts every AuthPolicy in deploy/examples and rejects a broken one', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(openApiSchema());
    let count = 0;
    for (const file of listManifestFiles([join(ROOT, 'deploy', 'examples')])) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const obj = doc.toJS() as { kind?: string } | null;
        if (obj?.kind !== 'AuthPolicy') continue;
        count++;
        assert.equal(validate(obj), true, `${file}: ${JSON.stringify(validate.errors)}`);
      }
    }
    assert.ok(count >= 2, `examples found: ${count}`);
    assert.equal(validate({ apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AuthPolicy', spec: { hosts: ['bad host!'], authentication: { mode: 'sometimes', methods: [] } } }), false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath).sort();
    assert.deepEqual(paths, ['/spec/authentication/mode', '/spec/hosts/0']);
  });
});
