// `authorization.claims`: every operator against a matching, a different, a missing and a wrongly typed
// value; consumer fields; claims combined with groups through the pipeline; compile problems with their
// field paths; and one JWT policy served over the real gRPC wire.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { stringify } from 'yaml';
import type { Authenticator } from '../src/core/ports.js';
import { createJwtServices, type JwtServices } from '../src/authn/jwt/services.js';
import { MAX_MATCHED_LENGTH } from '../src/authz/pattern.js';
import { runTokenCommand } from '../src/commands/token.js';
import type { Rule } from '../src/core/ports.js';
import type { GatehouseError } from '../src/core/errors.js';
import { NO_CLAIMS, type Identity } from '../src/core/identity.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import { compilePolicy, type CompileResult } from '../src/policy/compile.js';
import { PolicyIndex } from '../src/policy/index.js';
import { SecretIndex } from '../src/config/secrets.js';
import { okOf, type DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

function compileAuthz(authorization: Record<string, unknown>): CompileResult {
  return compilePolicy(
    {
      namespace: 'ns',
      name: 'p',
      generation: 1,
      creationTimestamp: undefined,
      origin: 'test',
      spec: { hosts: ['h.example.com'], authentication: { methods: [] }, anonymous: { id: 'anon', groups: ['guests'] }, authorization },
    },
    new SecretIndex(),
    { clock: () => 0 },
  );
}

function rulesFor(claims: readonly Record<string, unknown>[], extra: Record<string, unknown> = {}): readonly Rule[] {
  const r = compileAuthz({ claims, ...extra });
  if (!r.ok) throw new Error(`policy does not compile: ${r.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return r.policy.rules;
}

function problemsOf(claims: unknown): string[] {
  const r = compileAuthz({ claims });
  assert.equal(r.ok, false, 'the policy must not compile');
  return r.problems.map((p) => `${p.path}: ${p.message}`);
}

const person = (claims: Record<string, unknown>, extra: Partial<Identity> = {}): Identity => ({
  method: 'tokens',
  consumerId: 'alice',
  username: 'alice@example.com',
  customId: undefined,
  credential: 'tok-1',
  groups: ['staff'],
  anonymous: false,
  claims,
  headers: [],
  ...extra,
});

/** What the pipeline would answer: the first failing rule's refusal, or undefined. */
function refusal(rules: readonly Rule[], identity: Identity): { code: string; kind: string; detail: string; publicMessage: string } | undefined {
  for (const rule of rules) {
    const e: GatehouseError | undefined = rule.check(identity);
    if (e !== undefined) return { code: e.code, kind: e.kind, detail: e.message, publicMessage: e.publicMessage };
  }
  return undefined;
}

const refused = (detail: string, rule = 0) => ({ code: 'claim_forbidden', kind: 'forbidden', detail: `spec.authorization.claims[${rule}]: ${detail}`, publicMessage: 'Forbidden' });

/** [what the rule says, the rule, a matching value, a different one, one of another type]. */
type Row = readonly [string, { readonly claim: string } & Record<string, unknown>, unknown, unknown, unknown];

// Values are distinct, so a detail that leaked one would be caught.
const TABLE: readonly Row[] = [
  ['equals a string', { claim: 'tenant', equals: 'acme' }, 'acme', 'initech-corp', ['acme']],
  ['equals true', { claim: 'email_verified', equals: true }, true, false, 'true'],
  ['equals a number', { claim: 'level', equals: 3 }, 3, 4, '3'],
  ['oneOf', { claim: 'tenant', oneOf: ['acme', 'globex'] }, 'globex', 'initech-corp', 7031],
  ['contains one value, in an array', { claim: 'roles', contains: 'admin' }, ['viewer', 'admin'], ['viewer', 'administrator'], { admin: true }],
  ['contains a list (all of it)', { claim: 'roles', contains: ['admin', 'billing'] }, ['billing', 'viewer', 'admin'], ['admin', 'viewer-only'], 4417],
  ['contains, in a space-separated scope', { claim: 'scope', contains: 'orders:write' }, 'openid  orders:write profile', 'openid orders:writer', true],
  ['pattern', { claim: 'email', pattern: '@example\\.com$' }, 'alice@example.com', 'alice@example.com.evil.test', ['alice@example.com']],
];

describe('claim rules: every operator against a matching, different, missing and wrongly typed value', () => {
  for (const [says, rule, match, mismatch, wrongType] of TABLE) {
    const rules = rulesFor([rule]);
    const subject = `claim ${JSON.stringify(rule.claim)}`;
    const operator = Object.keys(rule).find((k) => k !== 'claim') ?? '';
    const claims = (value: unknown) => person({ [rule.claim]: value });
    it(`${says}: a matching value passes`, () => {
      assert.equal(refusal(rules, claims(match)), undefined);
    });
    it(`${says}: a different value is refused with 403 claim_forbidden naming the rule, never the value`, () => {
      const r = refusal(rules, claims(mismatch));
      assert.deepEqual(r, refused(`${subject} does not satisfy ${operator}`));
      for (const w of [mismatch].flat()) if (typeof w === 'string') assert.ok(!r?.detail.includes(w), `the detail holds no claim value (${w})`);
    });
    it(`${says}: a missing claim is refused`, () => {
      assert.deepEqual(refusal(rules, person({})), refused(`${subject} is missing`));
    });
    it(`${says}: a null claim counts as missing`, () => {
      assert.deepEqual(refusal(rules, claims(null)), refused(`${subject} is missing`));
    });
    it(`${says}: a value of another type is refused, not converted`, () => {
      assert.deepEqual(refusal(rules, claims(wrongType)), refused(`${subject} has the wrong type for ${operator}`));
    });
  }

  const present = rulesFor([{ claim: 'acr', present: true }]);
  const absent = rulesFor([{ claim: 'acr', present: false }]);
  it('present: true passes for any value, false and 0 included', () => {
    for (const acr of ['urn:mfa', 0, false, [], {}]) assert.equal(refusal(present, person({ acr })), undefined, JSON.stringify(acr));
  });
  it('present: true refuses a missing or null claim', () => {
    assert.deepEqual(refusal(present, person({})), refused('claim "acr" is missing'));
    assert.deepEqual(refusal(present, person({ acr: null })), refused('claim "acr" is missing'));
  });
  it('present: false passes a missing or null claim and refuses any value', () => {
    assert.equal(refusal(absent, person({})), undefined);
    assert.equal(refusal(absent, person({ acr: null })), undefined);
    assert.deepEqual(refusal(absent, person({ acr: false })), refused('claim "acr" is present but must be absent'));
  });
});

describe('claim names, patterns and who has claims', () => {
  it('a dotted name walks nested objects (realm_access.roles)', () => {
    const rules = rulesFor([{ claim: 'realm_access.roles', contains: 'admin' }]);
    assert.equal(refusal(rules, person({ realm_access: { roles: ['admin'] } })), undefined);
    assert.deepEqual(refusal(rules, person({ realm_access: ['admin'] })), refused('claim "realm_access.roles" is missing'));
  });
  it('a literal claim name with dots (Auth0 https://example.com/roles) is found as written, before any nesting', () => {
    const rules = rulesFor([{ claim: 'https://example.com/roles', contains: 'admin' }]);
    assert.equal(refusal(rules, person({ 'https://example.com/roles': ['admin'] })), undefined);
    const both = rulesFor([{ claim: 'org.role', equals: 'owner' }]);
    assert.equal(refusal(both, person({ 'org.role': 'owner', org: { role: 'member' } })), undefined);
    assert.deepEqual(refusal(both, person({ 'org.role': 'member', org: { role: 'owner' } })), refused('claim "org.role" does not satisfy equals'));
  });
  it('inherited properties are not claims: constructor and __proto__ are missing', () => {
    const rules = rulesFor([{ claim: 'constructor', present: true }, { claim: 'a.__proto__', present: true }]);
    assert.deepEqual(refusal(rules, person({ a: {} })), refused('claim "constructor" is missing'));
    assert.deepEqual(refusal(rules.slice(1), person({ a: {} })), refused('claim "a.__proto__" is missing', 1));
  });
  it(`a pattern is not anchored for you, and a value longer than ${MAX_MATCHED_LENGTH} characters never matches`, () => {
    const rules = rulesFor([{ claim: 'sub', pattern: 'svc-' }]);
    assert.equal(refusal(rules, person({ sub: 'team-svc-orders' })), undefined);
    assert.equal(refusal(rules, person({ sub: `svc-${'x'.repeat(MAX_MATCHED_LENGTH - 4)}` })), undefined);
    assert.deepEqual(refusal(rules, person({ sub: `svc-${'x'.repeat(MAX_MATCHED_LENGTH - 3)}` })), refused('claim "sub" does not satisfy pattern'));
  });
  it('a pattern that could backtrack for ages on a hostile claim does not compile', () => {
    const why = 'a repeated group holds a repeated part, e.g. (a+)+: it can backtrack exponentially';
    assert.deepEqual(problemsOf([{ claim: 'name', pattern: '^(a+)+$' }, { claim: 'name', pattern: '^(\\w+\\s?)*$' }, { claim: 'name', pattern: '^(?:x(a|b)*)+$' }]), [
      `spec.authorization.claims[0].pattern: ${why}`,
      `spec.authorization.claims[1].pattern: ${why}`,
      `spec.authorization.claims[2].pattern: ${why}`,
    ]);
  });
  it('bounded repetition and plain groups are fine: an IPv4-like pattern compiles and matches', () => {
    const rules = rulesFor([{ claim: 'ip', pattern: '^(\\d{1,3}\\.){3}\\d{1,3}$' }]);
    assert.equal(refusal(rules, person({ ip: '10.0.0.1' })), undefined);
    assert.deepEqual(refusal(rules, person({ ip: '10.0.0' })), refused('claim "ip" does not satisfy pattern'));
  });
  it('an API-key consumer has no claims: claim rules refuse it, present: false passes', () => {
    assert.deepEqual(refusal(rulesFor([{ claim: 'tenant', equals: 'acme' }]), person(NO_CLAIMS)), refused('claim "tenant" is missing'));
    assert.equal(refusal(rulesFor([{ claim: 'tenant', present: false }]), person(NO_CLAIMS)), undefined);
  });
});

describe('consumer fields', () => {
  const cases: readonly { says: string; rule: Record<string, unknown>; passes: Partial<Identity>; fails: Partial<Identity>; detail: string }[] = [
    { says: 'a consumer id outside oneOf', rule: { consumer: 'id', oneOf: ['alice', 'bob'] }, passes: { consumerId: 'bob' }, fails: { consumerId: 'mallory' }, detail: 'consumer id does not satisfy oneOf' },
    { says: 'a username not matching ^svc-', rule: { consumer: 'username', pattern: '^svc-' }, passes: { username: 'svc-orders' }, fails: { username: 'alice' }, detail: 'consumer username does not satisfy pattern' },
    { says: 'a consumer without a username', rule: { consumer: 'username', pattern: '^svc-' }, passes: { username: 'svc-billing' }, fails: { username: undefined }, detail: 'consumer username is missing' },
    { says: 'another custom id', rule: { consumer: 'customId', equals: 'c-42' }, passes: { customId: 'c-42' }, fails: { customId: 'c-43' }, detail: 'consumer customId does not satisfy equals' },
    { says: 'a consumer without a credential id', rule: { consumer: 'credential', present: true }, passes: { credential: 'tok-9' }, fails: { credential: undefined }, detail: 'consumer credential is missing' },
    { says: 'a consumer in only one of two groups', rule: { consumer: 'groups', contains: ['staff', 'ops'] }, passes: { groups: ['ops', 'staff'] }, fails: { groups: ['staff'] }, detail: 'consumer groups does not satisfy contains' },
    { says: 'a consumer signed in by another method', rule: { consumer: 'method', equals: 'partner-keys' }, passes: { method: 'partner-keys' }, fails: { method: 'tokens' }, detail: 'consumer method does not satisfy equals' },
  ];
  for (const c of cases) {
    const rules = rulesFor([c.rule]);
    it(`${c.says} is refused (${c.detail}); the matching consumer passes`, () => {
      assert.equal(refusal(rules, person({}, c.passes)), undefined);
      assert.deepEqual(refusal(rules, person({}, c.fails)), refused(c.detail));
    });
  }
  it('groups are a list: equals never matches them, contains does', () => {
    assert.deepEqual(refusal(rulesFor([{ consumer: 'groups', equals: 'staff' }]), person({})), refused('consumer groups has the wrong type for equals'));
    assert.equal(refusal(rulesFor([{ consumer: 'groups', contains: 'staff' }]), person({})), undefined);
  });
});

describe('claims with groups and the anonymous consumer, through the pipeline', () => {
  const input = new CheckInput({ method: 'GET', scheme: 'https', host: 'h.example.com', path: '/', headers: new Map(), peer: '127.0.0.1' });
  const pipeline = new Pipeline({ onNoPolicy: 'deny' });
  const STAFF_OF_ACME = { groups: { anyOf: ['staff'] }, claims: [{ claim: 'tenant', oneOf: ['acme'] }, { claim: 'acr', present: false }] };
  function decideFor(identity: Identity | undefined, authorization: Record<string, unknown> = STAFF_OF_ACME) {
    const r = compileAuthz(authorization);
    assert.ok(r.ok);
    const method: Authenticator = {
      name: 'tokens',
      type: 'jwt',
      challenge: 'Bearer',
      headerNames: [],
      presented: () => (identity === undefined ? undefined : 'header:authorization'),
      authenticate: () => (identity === undefined ? { kind: 'none' } : { kind: 'success', identity }),
    };
    const index = new PolicyIndex([{ policy: { ...r.policy, authenticators: [method] }, createdAt: undefined }]);
    return pipeline.decide(index, input, 0);
  }
  const forbidden = (code: string) => ({
    status: 403,
    code,
    headers: [{ name: 'content-type', value: 'application/json' }],
    body: JSON.stringify({ code, message: 'Forbidden' }),
  });
  const answer = (d: ReturnType<typeof decideFor>) => {
    assert.ok(!(d instanceof Promise), 'the decision is synchronous');
    return d.kind === 'deny' ? { status: d.status, code: d.code, headers: d.headers, body: d.body } : { allow: d.identity?.consumerId };
  };

  it('staff with the right tenant pass', () => {
    assert.deepEqual(answer(decideFor(person({ tenant: 'acme' }))), { allow: 'alice' });
  });
  it('staff with another tenant get 403 claim_forbidden', () => {
    assert.deepEqual(answer(decideFor(person({ tenant: 'globex' }))), forbidden('claim_forbidden'));
  });
  it('the right tenant outside staff gets 403 group_forbidden: groups and claims must both pass', () => {
    assert.deepEqual(answer(decideFor(person({ tenant: 'acme' }, { groups: ['guests'] }))), forbidden('group_forbidden'));
  });
  it('the anonymous consumer has no claims: a claim rule refuses it, present: false lets it through', () => {
    assert.deepEqual(answer(decideFor(undefined, { claims: [{ claim: 'acr', present: false }, { claim: 'tenant', oneOf: ['acme'] }] })), forbidden('claim_forbidden'));
    assert.deepEqual(answer(decideFor(undefined, { claims: [{ claim: 'acr', present: false }] })), { allow: 'anon' });
  });
});

describe('claim rules that do not compile name the field', () => {
  const cases: readonly [string, unknown, readonly string[]][] = [
    ['a regex that does not parse', [{ claim: 'email', pattern: '(unclosed' }], ['spec.authorization.claims[0].pattern: not a valid regular expression (Unterminated group)']],
    ['a backreference', [{ claim: 'email', equals: 'x' }, { claim: 'email', pattern: '(a)\\1' }], ['spec.authorization.claims[1].pattern: backreferences are not allowed (they can backtrack exponentially)']],
    ['no operator', [{ claim: 'tenant' }], ['spec.authorization.claims[0]: set one operator: equals, oneOf, contains, pattern, present']],
    ['two operators', [{ claim: 'tenant', equals: 'acme', pattern: '^a' }], ['spec.authorization.claims[0]: only one operator may be set, found equals, pattern']],
    ['no subject', [{ equals: 'acme' }], ['spec.authorization.claims[0]: set claim or consumer: what the rule tests']],
    ['two subjects', [{ claim: 'sub', consumer: 'id', equals: 'acme' }], ['spec.authorization.claims[0]: set either claim or consumer, not both']],
    ['an object to compare with', [{ claim: 'tenant', equals: { name: 'acme' } }], ['spec.authorization.claims[0].equals: must be a string, number or boolean']],
    ['null in a oneOf list', [{ claim: 'tenant', oneOf: ['acme', null] }], ['spec.authorization.claims[0].oneOf[1]: must be a string, number or boolean']],
    ['an empty contains list', [{ claim: 'roles', contains: [] }], ['spec.authorization.claims[0].contains: give one value or a list of 1 to 64 values']],
    ['a nested list in contains', [{ claim: 'roles', contains: ['a', ['b']] }], ['spec.authorization.claims[0].contains[1]: must be a string, number or boolean']],
    ['an unknown consumer field', [{ consumer: 'email', equals: 'x' }], ['spec.authorization.claims[0].consumer: must be one of "id", "username", "customId", "credential", "groups", "method"']],
    ['a misspelt operator', [{ claim: 'tenant', equal: 'acme' }], ['spec.authorization.claims[0].equal: unknown property; did you mean equals?']],
    ['a pattern over 256 characters', [{ claim: 'tenant', pattern: 'a'.repeat(257) }], ['spec.authorization.claims[0].pattern: Expected string length less or equal to 256']],
  ];
  for (const [what, claims, expected] of cases) {
    it(`${what} is a problem at its field path`, () => {
      assert.deepEqual(problemsOf(claims), expected);
    });
  }
});

const HMAC = 'claims-hs256-shared-secret-0123456789';
const ISSUER = 'https://id.example.com';

/** An AuthPolicy in namespace shop whose one method takes HS256 tokens from ISSUER. */
function jwtPolicy(name: string, host: string, method: string, spec: Record<string, unknown>, consumer?: Record<string, string>): string {
  const jwt = { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, issuer: ISSUER, audiences: ['shop'], ...(consumer === undefined ? {} : { consumer }) };
  return stringify({
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AuthPolicy',
    metadata: { name, namespace: 'shop' },
    spec: { hosts: [host], authentication: { methods: [{ name: method, jwt }] }, ...spec },
  });
}

const secretYaml = (name: string, stringData: Record<string, string>): string =>
  stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'shop' }, stringData });

const API_POLICY = jwtPolicy(
  'api',
  'api.shop.example.com',
  'tokens',
  {
    authorization: {
      groups: { anyOf: ['staff'] },
      claims: [
        { claim: 'email_verified', equals: true },
        { claim: 'tenant', oneOf: ['acme', 'globex'] },
        { claim: 'https://shop.example.com/roles', contains: 'admin' },
        { claim: 'email', pattern: '@example\\.com$' },
        { consumer: 'method', equals: 'tokens' },
      ],
    },
  },
  { username: 'preferred_username', groups: 'groups' },
);

/** A JWT sign-in that becomes a cookie session, for the tenants given. */
const webPolicy = (tenants: readonly string[]): string =>
  jwtPolicy('web', 'web.shop.example.com', 'sso', {
    authorization: { claims: [{ claim: 'tenant', oneOf: tenants }] },
    session: { storage: 'cookie', secretRef: { name: 'web-session' } },
  });

const SECRETS = [secretYaml('jwt-hmac', { secret: HMAC }), secretYaml('web-session', { current: '0123456789abcdef0123456789abcdef-session-key' })].join('---\n');

/** The whole CheckResponse of an allowed request: identity headers set, the others removed. */
const allowed = (headers: readonly [string, string][], headersToRemove: string[]): DecodedCheckResponse => ({
  grpcCode: 0,
  message: '',
  kind: 'ok',
  ok: {
    headers: headers.map(([key, value]) => ({ key, value, append: false })),
    headersToRemove,
    responseHeadersToAdd: [],
    queryParametersToSet: [],
    queryParametersToRemove: [],
  },
});

/** The whole CheckResponse Envoy gets for a failed claim rule. */
const CLAIM_FORBIDDEN: DecodedCheckResponse = {
  grpcCode: 7,
  message: 'claim_forbidden',
  kind: 'denied',
  denied: {
    status: 403,
    headers: [{ key: 'content-type', value: 'application/json', append: false }],
    body: '{"code":"claim_forbidden","message":"Forbidden"}',
  },
};

describe('claim rules over the ext_authz gRPC wire', { timeout: 60_000 }, () => {
  let gh: TestGatehouse;
  let jwt: JwtServices;
  const now = Date.now();
  before(async () => {
    jwt = createJwtServices();
    gh = await startTestGatehouse({ 'secrets.yaml': SECRETS, 'api.yaml': API_POLICY, 'web.yaml': webPolicy(['acme']) }, { clock: () => now, jwt });
    await eventually(() => gh.gatehouse.store.index !== undefined, 5000, 'policies loaded');
  });
  after(async () => {
    await gh.stop();
    await jwt.close();
  });

  const token = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT({ iss: ISSUER, aud: 'shop', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 300, ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(Buffer.from(HMAC));
  const check = async (claims: Record<string, unknown>): Promise<DecodedCheckResponse> =>
    gh.envoy.check({ host: 'api.shop.example.com', path: '/orders', headers: { authorization: `Bearer ${await token(claims)}` } });
  const good = {
    sub: 'alice',
    jti: 'tok-7',
    preferred_username: 'Alice',
    groups: ['staff'],
    email_verified: true,
    tenant: 'acme',
    'https://shop.example.com/roles': ['admin', 'viewer'],
    email: 'alice@example.com',
  };

  it('a token whose claims pass every rule is allowed with the identity headers', async () => {
    assert.deepEqual(
      await check(good),
      allowed(
        [['x-consumer-id', 'alice'], ['x-consumer-username', 'Alice'], ['x-credential-identifier', 'tok-7'], ['x-authenticated-groups', 'staff']],
        ['x-consumer-custom-id', 'x-anonymous-consumer'],
      ),
    );
  });

  it('a token of another tenant is refused 403 claim_forbidden; the log names the rule, not the tenant', async () => {
    assert.deepEqual(await check({ ...good, jti: 'tok-8', tenant: 'initech-corp' }), CLAIM_FORBIDDEN);
    await eventually(() => gh.logs.some((l) => l.includes('"code":"claim_forbidden"')), 5000, 'the decision log line');
    const line = gh.logs.find((l) => l.includes('"code":"claim_forbidden"')) ?? '';
    assert.equal((JSON.parse(line) as { detail?: unknown }).detail, 'spec.authorization.claims[1]: claim "tenant" does not satisfy oneOf');
    assert.ok(!line.includes('initech'), 'the claim value is not logged');
  });

  it('email_verified as the string "true" is not true: 403 claim_forbidden', async () => {
    assert.deepEqual(await check({ ...good, jti: 'tok-9', email_verified: 'true' }), CLAIM_FORBIDDEN);
  });
  it('a session created by a JWT keeps its claims: the cookie alone passes, until the policy wants another tenant', async () => {
    const web = (headers: Record<string, string>) => gh.envoy.check({ host: 'web.shop.example.com', path: '/', headers });
    const signIn = okOf(await web({ authorization: `Bearer ${await token({ sub: 'alice', tenant: 'acme' })}` }));
    const setCookie = signIn.responseHeadersToAdd[0]?.value ?? '';
    assert.match(setCookie, /^gh_session=[^;]+; Path=\//);
    const cookie = setCookie.slice(0, setCookie.indexOf(';'));
    const byCookie = okOf(await web({ cookie }));
    assert.deepEqual([byCookie.headers[0], byCookie.responseHeadersToAdd], [{ key: 'x-consumer-id', value: 'alice', append: false }, []]);
    gh.write('web.yaml', webPolicy(['globex']));
    await eventually(async () => (await web({ cookie })).kind === 'denied', 5000, 'the policy reloaded');
    assert.deepEqual(await web({ cookie }), CLAIM_FORBIDDEN);
  });
});

describe('the shipped example deploy/examples/jwt.yaml', { timeout: 60_000 }, () => {
  const examples = join(import.meta.dirname, '..', '..', 'deploy', 'examples');
  let gh: TestGatehouse;
  let jwt: JwtServices;
  before(async () => {
    jwt = createJwtServices();
    gh = await startTestGatehouse({ 'jwt.yaml': readFileSync(join(examples, 'jwt.yaml'), 'utf8') }, { jwt });
    await eventually(() => gh.gatehouse.store.index !== undefined, 5000, 'policies loaded');
  });
  after(async () => {
    await gh.stop();
    await jwt.close();
  });

  /** `gatehouse token mint` as the example's comment runs it (with --json), plus `extra` flags. */
  async function mint(extra: readonly string[]): Promise<{ token: string; jti: string }> {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: {} };
    const args = ['mint', '--policies', examples, '--policy', 'shop/orders-api', '--method', 'partner-tokens', '--consumer', 'acme', '--username', 'acme-corp', '--groups', 'partners', ...extra, '--ttl', '1h', '--json'];
    assert.equal(await runTokenCommand(args, io), 0, err);
    return JSON.parse(out) as { token: string; jti: string };
  }
  const check = async (token: string): Promise<DecodedCheckResponse> =>
    gh.envoy.check({ host: 'orders.shop.example.com', path: '/orders', headers: { authorization: `Bearer ${token}` } });

  it('a token minted as its comment says (--claim tenant=acme) is allowed', async () => {
    const { token, jti } = await mint(['--claim', 'tenant=acme']);
    assert.deepEqual(
      await check(token),
      allowed(
        [['x-consumer-id', 'acme'], ['x-consumer-username', 'acme-corp'], ['x-credential-identifier', jti], ['x-authenticated-groups', 'partners']],
        ['x-consumer-custom-id', 'x-anonymous-consumer', 'x-user-email', 'authorization'],
      ),
    );
  });
  it('the same token without the tenant claim, or of another tenant, is refused 403 claim_forbidden', async () => {
    for (const extra of [[], ['--claim', 'tenant=initech']]) {
      assert.deepEqual(await check((await mint(extra)).token), CLAIM_FORBIDDEN);
    }
  });
});
