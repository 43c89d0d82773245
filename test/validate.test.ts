// `gatehouse validate` as a user runs it on their manifests: every problem at its file, line and column
// (YAML syntax errors included), "did you mean" for a misspelt property, and warnings for what works
// from files but not in a cluster, or should not be deployed as it is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dirWith, ROOT, run } from './support/cli.js';

const GOOD = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: good, namespace: ns}
spec:
  hosts: [good.example.com]
  authentication: {methods: [{name: k, apiKey: {selector: {matchLabels: {gatehouse.dev/credential: k}}}}]}
`;

// Three documents, each with a YAML mistake of its own.
const SYNTAX_ERRORS = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: one, namespace: ns}
spec:
  hosts: [one.example.com]
  hosts: [again.example.com]
---
apiVersion: v1
kind: Secret
metadata:
    name: x
  namespace: y
---
apiVersion: v1
kind: Secret
metadata:
\tname: tabbed
`;

// Properties as people misspell them (British spelling, singular for plural, lower case).
const TYPOS = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata:
  name: typos
  namespace: shop
spec:
  hosts: ["api.shop.example.com"]
  authentication:
    methods:
      - name: keys
        apikey:
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
      - name: hidden
        apiKey:
          hideCredential: true
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
  authorisation:
    groups: {anyOf: [partners]}
  pathMatching: {colour: blue}
`;

/** Exactly these lines on stdout (each ending in a newline), nothing on stderr, and this exit status. */
function assertPrints(r: ReturnType<typeof run>, status: number, lines: readonly string[]): void {
  assert.deepEqual(r, { status, stderr: '', stdout: lines.map((l) => `${l}\n`).join('') });
}

/** `gatehouse validate .` in a directory holding `files`: paths in the output are the file names. */
function validateFiles(files: Record<string, string>, flags: readonly string[] = []): ReturnType<typeof run> {
  return run(['validate', ...flags, '.'], {}, dirWith(files));
}

describe('gatehouse validate on the shipped examples', () => {
  const placeholders = [
    'deploy/examples/oidc.yaml:54:3: stringData.client-secret: warning: looks like a placeholder, not a secret: replace it before deploying (read by AuthPolicy shop/shop-portal)',
    'deploy/examples/oidc.yaml:65:3: stringData.k2026-11: warning: looks like a placeholder, not a secret: replace it before deploying (read by AuthPolicy shop/shop-portal)',
    'deploy/examples/session.yaml:52:3: stringData.k2026-11: warning: looks like a placeholder, not a secret: replace it before deploying (read by AuthPolicy shop/shop-web)',
    'deploy/examples/session.yaml:66:3: stringData.api_key: warning: looks like a placeholder, not a secret: replace it before deploying (read by AuthPolicy shop/shop-api and 2 more)',
    '5 policies, 8 secrets, 0 errors, 4 warnings',
  ];

  it('no error; the placeholder secrets they ship are warnings, at their line: exit 0', () => {
    assertPrints(run(['validate', 'deploy/examples'], {}, ROOT), 0, placeholders);
  });

  it('with --strict the same warnings make it exit 1', () => {
    assertPrints(run(['validate', '--strict', 'deploy/examples'], {}, ROOT), 1, placeholders);
  });
});

describe('gatehouse validate: every problem at its file, line and column', () => {
  it('each kind of bad file, sorted by file and line', () => {
    const r = validateFiles({
      'a-yaml.yaml': 'kind: [oops\n',
      'b-field.yaml': GOOD.replace('name: good', 'name: bad-field').replace('good.example.com', 'bad.example.com').replace('methods: [{', 'mode: maybe, methods: [{'),
      'c-secrets.yaml': `apiVersion: v1
kind: Secret
metadata: {name: empty, namespace: ns, labels: {gatehouse.dev/credential: k}}
stringData: {other: x}
---
apiVersion: v1
kind: Secret
metadata: {name: notbase64, namespace: ns}
data: {api_key: "***"}
---
apiVersion: v1
kind: Secret
metadata: {namespace: ns}
stringData: {api_key: k}
`,
      'd-dup.yaml': `${GOOD}---\n${GOOD.replace('name: good', 'name: twin')}`,
      'e-unknown-field.yaml': GOOD.replace('name: good', 'name: typo').replace('good.example.com', 'typo.example.com').replace('  hosts:', '  hostz: [x]\n  hosts:'),
    });
    const noKey = 'spec.authentication.methods[0].apiKey.selector: warning: Secret ns/empty (c-secrets.yaml#1) has no `api_key` entry: it holds no key';
    assertPrints(r, 1, [
      'a-yaml.yaml:2:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'b-field.yaml:6:20: spec.authentication.mode: must be one of "any", "all"',
      'c-secrets.yaml:9:8: data.api_key: must be base64 (use stringData for plain text)',
      'c-secrets.yaml:13:1: metadata.name: is required',
      `d-dup.yaml:6:49: ${noKey}`,
      'd-dup.yaml:12:3: spec.hosts: host good.example.com path / is already served by ns/good (d-dup.yaml#1)',
      `d-dup.yaml:13:49: ${noKey}`,
      'e-unknown-field.yaml:5:3: spec.hostz: unknown property; did you mean hosts?',
      '4 policies, 1 secret, 6 errors, 2 warnings',
    ]);
  });

  const cases: { name: string; file: string; text: string; lines: string[] }[] = [
    {
      name: 'YAML syntax errors, one per document, each at its line',
      file: 'syntax.yaml',
      text: SYNTAX_ERRORS,
      lines: [
        'syntax.yaml:6:3: YAML: Map keys must be unique',
        'syntax.yaml:12:1: YAML: All mapping items must start at the same column',
        'syntax.yaml:17:1: YAML: Tabs are not allowed as indentation',
        '0 policies, 0 secrets, 3 errors, 0 warnings',
      ],
    },
    {
      name: 'a misspelt property names the one it is closest to; one like no other lists those allowed there',
      file: 'typos.yaml',
      text: TYPOS,
      lines: [
        'typos.yaml:11:9: spec.authentication.methods[0].apikey: unknown property; did you mean apiKey?',
        'typos.yaml:15:11: spec.authentication.methods[1].apiKey.hideCredential: unknown property; did you mean hideCredentials?',
        'typos.yaml:17:3: spec.authorisation: unknown property; did you mean authorization?',
        'typos.yaml:19:18: spec.pathMatching.colour: unknown property; expected one of caseInsensitive, stripParameters, allowEncodedSlashes',
        '1 policy, 0 secrets, 4 errors, 0 warnings',
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assertPrints(validateFiles({ [c.file]: c.text }), 1, c.lines));
});

describe('gatehouse validate: warnings for what would not work in a cluster, or should not be deployed', () => {
  const files = {
    'keys.yaml': `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.shop.example.com]
  authentication:
    methods:
      - name: partners
        apiKey: {selector: {matchLabels: {team: partners}}}
      - name: staff
        apiKey: {selector: {matchLabels: {gatehouse.dev/credential: staff}}}
---
apiVersion: v1
kind: Secret
metadata:
  name: partner-acme
  namespace: shop
  labels: {team: partners}
stringData:
  api_key: replace-with-a-long-random-key
---
apiVersion: v1
kind: Secret
metadata: {name: unrelated, namespace: shop}
stringData: {password: changeme}
`,
  };
  const warnings = [
    'keys.yaml:11:18: spec.authentication.methods[1].apiKey.selector: warning: selects no Secret in namespace shop among these files: method staff accepts no key',
    'keys.yaml:18:3: metadata.labels: warning: no gatehouse.dev/credential label: in a cluster gatehouse reads only Secrets with that label (--secret-selector), so AuthPolicy shop/api would not find this one',
    'keys.yaml:20:3: stringData.api_key: warning: looks like a placeholder, not a secret: replace it before deploying (read by AuthPolicy shop/api)',
    '1 policy, 2 secrets, 0 errors, 3 warnings',
  ];

  it('a Secret a policy reads without the credential label, a selector that selects nothing, a placeholder key: warnings, exit 0', () => {
    // The Secret no policy reads is not gatehouse's business: no warning for it.
    assertPrints(validateFiles(files), 0, warnings);
  });

  it('--strict: exit 1 for the same warnings', () => {
    assertPrints(validateFiles(files, ['--strict']), 1, warnings);
  });

  it('the placeholder is found in base64 data too, and its value is never printed', () => {
    const r = validateFiles({
      'data.yaml': files['keys.yaml'].replace('stringData:\n  api_key: replace-with-a-long-random-key', `data:\n  api_key: ${Buffer.from('CHANGEME').toString('base64')}`),
    });
    assert.match(r.stdout, /^data\.yaml:20:3: data\.api_key: warning: looks like a placeholder, not a secret: replace it before deploying \(read by AuthPolicy shop\/api\)$/m);
    assert.doesNotMatch(r.stdout, /CHANGEME|Q0hBTkdFTUU/);
  });
});

describe('gatehouse validate: a command line it cannot run', () => {
  it('paths that do not exist: exit 2 naming each, nothing validated', () => {
    assert.deepEqual(run(['validate', 'deploy/exampels', 'deploy/examples', 'README.md/x'], {}, ROOT), {
      status: 2,
      stdout: '',
      stderr: 'gatehouse validate: deploy/exampels: no such file or directory\ngatehouse validate: README.md/x: no such file or directory (a part of it is a file)\n',
    });
  });

  it('no path at all, or an unknown flag: exit 2', () => {
    assert.deepEqual(run(['validate']), { status: 2, stdout: '', stderr: 'gatehouse validate: give at least one file or directory\n' });
    assert.deepEqual(run(['validate', '--stict', '.']), { status: 2, stdout: '', stderr: 'gatehouse validate: unknown flag --stict; did you mean --strict?\n' });
  });
});

describe('gatehouse validate, offline', () => {
  it('checks a Redis-stored session policy without contacting any Redis', () => {
    const example = readFileSync(join(ROOT, 'deploy', 'examples', 'session.yaml'), 'utf8');
    const redis = example.replace('storage: cookie ', 'storage: redis  ');
    assert.notEqual(redis, example);
    const r = validateFiles({ 'session-redis.yaml': redis });
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /\n1 policy, 2 secrets, 0 errors, 2 warnings\n$/);
    assert.equal(r.status, 0);
  });
});
