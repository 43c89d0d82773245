// What a Secret from the API costs once read: 100,000 of them are held at once, so only what compiled
// policies read survives the conversion (labels to select by, data, the gatehouse.dev/ annotations that
// name consumers), never the API object or what other tools wrote into it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toSecret } from '../src/sources/kubernetes-convert.js';

function apiSecret(annotations: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'acme',
      namespace: 'shop',
      resourceVersion: '7',
      uid: '0b0e6f1c-3d6b-4a3c-9d53-b0f0e9a6c2a1',
      labels: { 'gatehouse.dev/credential': 'partners', 'app.kubernetes.io/managed-by': 'Helm' },
      annotations,
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:data': { 'f:api_key': {} } } }],
    },
    type: 'Opaque',
    data: { api_key: Buffer.from('acme-key-1').toString('base64') },
  };
}

describe('a Secret read from the API keeps only what policies read', () => {
  it('annotations of other tools (Helm, Argo CD, kubectl last-applied) are dropped; consumer annotations kept', () => {
    const object = apiSecret({
      'gatehouse.dev/consumer-id': 'acme',
      'gatehouse.dev/groups': 'partners,gold',
      'meta.helm.sh/release-name': 'shop',
      'argocd.argoproj.io/tracking-id': 'shop:/Secret:shop/acme',
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ stringData: { api_key: 'acme-key-1' } }).repeat(50),
    });
    const r = toSecret(object);
    assert.ok(r.ok);
    assert.deepEqual(r.value.annotations, { 'gatehouse.dev/consumer-id': 'acme', 'gatehouse.dev/groups': 'partners,gold' });
    assert.deepEqual(Object.keys(r.value).sort(), ['annotations', 'data', 'labels', 'name', 'namespace', 'origin']);
  });

  it('holds no object of the API answer: labels and annotations are copies, data is decoded', () => {
    const object = apiSecret({ 'gatehouse.dev/consumer-id': 'acme' });
    const meta = object.metadata as { labels: object; annotations: object };
    const r = toSecret(object);
    assert.ok(r.ok);
    assert.notEqual(r.value.labels, meta.labels);
    assert.notEqual(r.value.annotations, meta.annotations);
    assert.deepEqual(r.value.labels, { 'gatehouse.dev/credential': 'partners', 'app.kubernetes.io/managed-by': 'Helm' });
    assert.deepEqual([...r.value.data].map(([k, v]) => [k, v.toString('utf8')]), [['api_key', 'acme-key-1']]);
  });
});
