// `gatehouse serve` settings as an operator writes them: every flag as `--flag value`, `--flag=value`
// and as its GATEHOUSE_* variable; a flag over its variable over the default; a bad value named by flag
// and variable; misspellings answered with the nearest name; exactly one policy source.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envName } from '../src/args/flags.js';
import { loadSettings, readSettings, SETTINGS, type Settings, straySettingVariables } from '../src/service/settings.js';
import { usageProblems } from './support/usage.js';

type Env = Record<string, string>;

interface Sample<T> {
  /** A valid text and the value it gives. */
  readonly text: string;
  readonly value: T;
  /** Another valid text and its value, for precedence. */
  readonly other: readonly [string, T];
  readonly defaultValue: T;
  /** A text the setting refuses, and why. */
  readonly bad?: readonly [string, string];
  /** What else the command line holds so that it has one policy source (default: --policies /base). */
  readonly context?: Context;
  /** Where the default is read, for settings that go in pairs (default: `context`). */
  readonly defaultContext?: Context;
}

interface Context {
  readonly argv: readonly string[];
  readonly env: Env;
}

const IN_A_POD: Env = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };
const NOT_A_DURATION = (t: string): readonly [string, string] => [t, `"${t}" is not a duration such as 250ms, 20s, 1m`];
const NOT_BYTES = (t: string): readonly [string, string] => [t, `"${t}" is not a byte count between 1024 and 1073741824`];
const WITH_TLS_KEY: Context = { argv: ['--policies', '/base', '--tls-key-file', '/tls/tls.key'], env: {} };
const WITH_TLS_CERT: Context = { argv: ['--policies', '/base', '--tls-cert-file', '/tls/tls.crt', '--tls-key-file', '/tls/tls.key'], env: {} };
const WITHOUT_TLS: Context = { argv: ['--policies', '/base'], env: {} };

// One per setting; the type makes a new setting without a sample a compile error.
const SAMPLES: { readonly [K in keyof Settings]: Sample<Settings[K]> } = {
  policies: { text: '/etc/a, /etc/b', value: ['/etc/a', '/etc/b'], other: ['/srv/c', ['/srv/c']], defaultValue: [], context: { argv: [], env: IN_A_POD } },
  kubernetes: { text: 'true', value: true, other: ['yes', true], defaultValue: true, bad: ['maybe', '"maybe" is not true or false'], context: { argv: [], env: IN_A_POD } },
  watchNamespaces: { text: 'shop,billing', value: ['shop', 'billing'], other: ['ops', ['ops']], defaultValue: [] },
  policySelector: { text: 'shard=1', value: 'shard=1', other: ['shard=2', 'shard=2'], defaultValue: '' },
  secretSelector: { text: 'gatehouse.dev/credential,team=payments', value: 'gatehouse.dev/credential,team=payments', other: ['x=y', 'x=y'], defaultValue: 'gatehouse.dev/credential' },
  grpcAddress: { text: '127.0.0.1:9101', value: '127.0.0.1:9101', other: ['[::1]:9102', '[::1]:9102'], defaultValue: '0.0.0.0:9001', bad: ['127.0.0.1:70000', '"127.0.0.1:70000" is not host:port'] },
  httpAddress: { text: '127.0.0.1:9102', value: '127.0.0.1:9102', other: ['[::1]:9202', '[::1]:9202'], defaultValue: '0.0.0.0:9002', bad: ['9002', '"9002" is not host:port'] },
  adminAddress: { text: 'localhost:9190', value: 'localhost:9190', other: ['0.0.0.0:80', '0.0.0.0:80'], defaultValue: '0.0.0.0:9090', bad: ['9090', '"9090" is not host:port'] },
  logLevel: { text: 'debug', value: 'debug', other: ['error', 'error'], defaultValue: 'info', bad: ['loud', '"loud" is not one of debug, info, warn, error'] },
  defaultDecision: { text: 'allow', value: 'allow', other: ['deny', 'deny'], defaultValue: 'deny', bad: ['permit', '"permit" is not one of deny, allow'] },
  maxRequestBytes: { text: '1048576', value: 1048576, other: ['2048', 2048], defaultValue: 8388608, bad: NOT_BYTES('1023') },
  maxHeaderBytes: { text: '131072', value: 131072, other: ['4096', 4096], defaultValue: 65536, bad: NOT_BYTES('64k') },
  deadlineMarginMs: { text: '25ms', value: 25, other: ['1s', 1000], defaultValue: 10, bad: NOT_A_DURATION('soon') },
  shutdownDelayMs: { text: '0s', value: 0, other: ['2.5s', 2500], defaultValue: 5000, bad: NOT_A_DURATION('-1s') },
  shutdownGraceMs: { text: '1m30s', value: 90_000, other: ['0s', 0], defaultValue: 20_000, bad: NOT_A_DURATION('20') },
  redisUrl: { text: 'redis://cache:6379/1', value: 'redis://cache:6379/1', other: ['rediss://cache:6380', 'rediss://cache:6380'], defaultValue: undefined },
  redisSessionCacheMs: { text: '250ms', value: 250, other: ['0s', 0], defaultValue: 1000, bad: NOT_A_DURATION('1 second') },
  watchStaleAfterMs: { text: '2m', value: 120_000, other: ['30s', 30_000], defaultValue: 60_000, bad: NOT_A_DURATION('1 minute') },
  tlsCertFile: { text: '/tls/tls.crt', value: '/tls/tls.crt', other: ['/run/cert.pem', '/run/cert.pem'], defaultValue: undefined, context: WITH_TLS_KEY, defaultContext: WITHOUT_TLS },
  tlsKeyFile: {
    text: '/tls/tls.key', value: '/tls/tls.key', other: ['/run/key.pem', '/run/key.pem'], defaultValue: undefined,
    context: { argv: ['--policies', '/base', '--tls-cert-file', '/tls/tls.crt'], env: {} }, defaultContext: WITHOUT_TLS,
  },
  tlsClientCaFile: { text: '/tls/ca.crt', value: '/tls/ca.crt', other: ['/run/clients.pem', '/run/clients.pem'], defaultValue: undefined, context: WITH_TLS_CERT },
  tlsReloadIntervalMs: { text: '1s', value: 1000, other: ['1m', 60_000], defaultValue: 10_000, bad: ['50ms', '"50ms" is shorter than 100ms'] },
  enableExplain: { text: 'true', value: true, other: ['false', false], defaultValue: false, bad: ['maybe', '"maybe" is not true or false'] },
};

/** The problems a command line is refused with (fails when it is accepted). */
function problems(argv: readonly string[], env: Env = {}): readonly string[] {
  return usageProblems(() => loadSettings(argv, env), argv.join(' '));
}

describe('every serve setting, from its table row', () => {
  for (const row of SETTINGS) {
    const sample: Sample<unknown> = SAMPLES[row.key];
    const variable = envName(row.flag);
    const context = sample.context ?? { argv: ['--policies', '/base'], env: {} };
    const defaultContext = sample.defaultContext ?? context;
    const loadIn = (where: Context, argv: readonly string[], env: Env): unknown => loadSettings([...argv, ...where.argv], { ...where.env, ...env }).settings[row.key];
    const load = (argv: readonly string[], env: Env = {}): unknown => loadIn(context, argv, env);
    const isSwitch = row.type.metavar === '';

    it(`--${row.flag} ${sample.text}, --${row.flag}=${sample.text} and ${variable}=${sample.text} all give the same value`, () => {
      assert.deepEqual(load(isSwitch ? [`--${row.flag}`] : [`--${row.flag}`, sample.text]), sample.value);
      assert.deepEqual(load([`--${row.flag}=${sample.text}`]), sample.value);
      assert.deepEqual(load([], { [variable]: sample.text }), sample.value);
    });

    it(`--${row.flag} wins over ${variable}, which wins over the default`, () => {
      const [otherText, otherValue] = sample.other;
      assert.deepEqual(load([`--${row.flag}=${sample.text}`], { [variable]: otherText }), sample.value);
      assert.deepEqual(load([], { [variable]: otherText }), otherValue);
      assert.deepEqual(loadIn(defaultContext, [], {}), sample.defaultValue);
    });

    const bad = sample.bad;
    if (bad !== undefined) {
      it(`--${row.flag}=${bad[0]} is refused naming the flag and ${variable}; the variable, naming both the other way round`, () => {
        const [text, why] = bad;
        assert.deepEqual(problems([`--${row.flag}=${text}`, ...context.argv], context.env), [`invalid --${row.flag} (${variable}): ${why}`]);
        assert.deepEqual(problems(context.argv, { ...context.env, [variable]: text }), [`invalid ${variable} (--${row.flag}): ${why}`]);
      });
    }
  }
});

describe('serve settings, as a whole', () => {
  it('lists add up over repeated flags and commas; other flags keep the last value given', () => {
    const { settings } = loadSettings(['--policies', 'a,b', '--policies', ' c ,,', '--log-level', 'debug', '--log-level', 'warn'], {});
    assert.deepEqual([settings.policies, settings.logLevel], [['a', 'b', 'c'], 'warn']);
  });

  it('the result is frozen', () => {
    const { settings } = loadSettings(['--policies', '/p'], {});
    assert.ok(Object.isFrozen(settings));
    assert.throws(() => Object.assign(settings, { logLevel: 'debug' }), TypeError);
  });

  it('every problem of a command line is reported at once, in order', () => {
    assert.deepEqual(problems(['--polices', '/p', '--grpc-address', 'nowhere', 'extra', '--log-level', 'loud', '--admin-address']), [
      'unknown flag --polices; did you mean --policies?',
      'unexpected argument "extra"',
      '--admin-address needs a value',
      'invalid --grpc-address (GATEHOUSE_GRPC_ADDRESS): "nowhere" is not host:port',
      'invalid --log-level (GATEHOUSE_LOG_LEVEL): "loud" is not one of debug, info, warn, error',
    ]);
  });

  it('a forgotten value is not taken from the next flag', () => {
    assert.deepEqual(problems(['--policies', '/p', '--shutdown-delay', '-1s']), [
      '--shutdown-delay needs a value; "-1s" looks like a flag (write --shutdown-delay=-1s if it is the value)',
    ]);
  });

  it('misspelt flags are answered with the nearest flag when one is near', () => {
    const cases: [string, string][] = [
      ['--grpc-adress', 'unknown flag --grpc-adress; did you mean --grpc-address?'],
      ['--shutdown-dealy=1s', 'unknown flag --shutdown-dealy; did you mean --shutdown-delay?'],
      ['--GRPC-ADDRESS', 'unknown flag --GRPC-ADDRESS; did you mean --grpc-address?'],
      ['-policies', 'unknown flag -policies; did you mean --policies?'],
      ['--hepl', 'unknown flag --hepl; did you mean --help?'],
      ['--redis', 'unknown flag --redis (gatehouse serve --help lists the flags)'],
      ['-x', 'unknown flag -x (gatehouse serve --help lists the flags)'],
    ];
    for (const [flag, message] of cases) assert.deepEqual(problems(['--policies', '/p', flag]), [message], flag);
  });

  it('--help or -h anywhere asks for help, whatever else is wrong; loadSettings refuses it', () => {
    for (const argv of [['--help'], ['--bogus', '-h'], ['--grpc-address', 'nowhere', '--help']]) assert.deepEqual(readSettings(argv, {}), { help: true }, argv.join(' '));
    assert.deepEqual(problems(['--help']), ['--help asks for the help text, not for settings']);
  });

  it('after --, everything is an argument, and serve takes none', () => {
    assert.deepEqual(problems(['--policies', '/p', '--', '--kubernetes']), ['unexpected argument "--kubernetes"']);
  });
});

describe('the policy source, checked with the settings (before anything is dialled)', () => {
  it('neither --policies nor --kubernetes, outside a pod: refused naming both ways to give each', () => {
    assert.deepEqual(problems([]), ['no policy source: give --policies (GATEHOUSE_POLICIES) or --kubernetes (GATEHOUSE_KUBERNETES)']);
    assert.deepEqual(problems([], { ...IN_A_POD, GATEHOUSE_KUBERNETES: 'false' }), [
      'no policy source: give --policies (GATEHOUSE_POLICIES) or GATEHOUSE_KUBERNETES (--kubernetes)',
    ]);
  });

  it('both: refused naming each as it was given', () => {
    assert.deepEqual(problems(['--policies', '/p', '--kubernetes']), [
      '--policies (GATEHOUSE_POLICIES) and --kubernetes (GATEHOUSE_KUBERNETES) are both given: read policies from files or from Kubernetes, not both',
    ]);
    assert.deepEqual(problems(['--kubernetes'], { GATEHOUSE_POLICIES: '/p' }), [
      'GATEHOUSE_POLICIES (--policies) and --kubernetes (GATEHOUSE_KUBERNETES) are both given: read policies from files or from Kubernetes, not both',
    ]);
  });

  it('in a pod the Kubernetes API is the source unless files are named; an explicit choice wins', () => {
    const source = (argv: readonly string[], env: Env): [readonly string[], boolean] => {
      const { settings } = loadSettings(argv, env);
      return [settings.policies, settings.kubernetes];
    };
    assert.deepEqual(source([], IN_A_POD), [[], true]);
    assert.deepEqual(source(['--policies', '/p'], IN_A_POD), [['/p'], false]);
    assert.deepEqual(source(['--policies', '/p', '--kubernetes=false'], { ...IN_A_POD, GATEHOUSE_KUBERNETES: 'true' }), [['/p'], false]);
  });
});

describe('GATEHOUSE_* variables that are no setting', () => {
  it('a misspelt one is a warning with the nearest variable; one like no other, a warning alone', () => {
    const env = { GATEHOUSE_SHUTDOWN_DEALY: '1s', GATEHOUSE_LOGLEVEL: 'debug', GATEHOUSE_FAVOURITE_COLOUR: 'blue', GATEHOUSE_LOG_LEVEL: 'info', HOME: '/root' };
    assert.deepEqual(straySettingVariables(env), [
      'GATEHOUSE_FAVOURITE_COLOUR is not a setting and is ignored',
      'GATEHOUSE_LOGLEVEL is not a setting and is ignored; did you mean GATEHOUSE_LOG_LEVEL?',
      'GATEHOUSE_SHUTDOWN_DEALY is not a setting and is ignored; did you mean GATEHOUSE_SHUTDOWN_DELAY?',
    ]);
  });

  it('the variables Kubernetes injects for Services named gatehouse* are ignored silently', () => {
    // kubelet's service links for Services gatehouse (ports 9001 grpc, 9090 admin) and gatehouse-metrics.
    const links: Env = {};
    for (const [service, ip, ports] of [['GATEHOUSE', '10.96.0.12', [['GRPC', '9001'], ['ADMIN', '9090']]], ['GATEHOUSE_METRICS', 'fd00::1', [['METRICS', '9090']]]] as const) {
      const [, first] = ports[0];
      Object.assign(links, { [`${service}_SERVICE_HOST`]: ip, [`${service}_SERVICE_PORT`]: first, [`${service}_PORT`]: `tcp://${ip}:${first}` });
      for (const [name, port] of ports) {
        Object.assign(links, {
          [`${service}_SERVICE_PORT_${name}`]: port,
          [`${service}_PORT_${port}_TCP`]: `tcp://${ip}:${port}`,
          [`${service}_PORT_${port}_TCP_PROTO`]: 'tcp',
          [`${service}_PORT_${port}_TCP_PORT`]: port,
          [`${service}_PORT_${port}_TCP_ADDR`]: ip,
        });
      }
    }
    assert.equal(Object.keys(links).length, 21);
    assert.deepEqual(straySettingVariables(links), []);
  });

  it('a name shaped like a service link but holding a setting-like value is still reported', () => {
    assert.deepEqual(straySettingVariables({ GATEHOUSE_GRPC_PORT: '0.0.0.0:9001', GATEHOUSE_SERVICE_HOST: 'gatehouse.local' }), [
      'GATEHOUSE_GRPC_PORT is not a setting and is ignored',
      'GATEHOUSE_SERVICE_HOST is not a setting and is ignored',
    ]);
  });
});
