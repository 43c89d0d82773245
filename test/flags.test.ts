// The command-line machinery every command shares (one table per command, read with node:util
// parseArgs): "did you mean", generated help, required flags, and `gatehouse token` refusing a command
// line it cannot run, before it reads a file or dials Redis.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTokenCommand, TOKEN_HELP } from '../src/commands/token.js';
import { closest, editDistance } from '../src/core/did-you-mean.js';
import { bool, duration, list, optional, text } from '../src/args/flag-types.js';
import { type Flag, readCommandLine, renderHelp } from '../src/args/flags.js';
import { usageProblems } from './support/usage.js';

describe('did you mean', () => {
  it('edit distance counts insertions, deletions, substitutions and swapped neighbours as one edit each', () => {
    const cases: [string, string, number][] = [
      ['', '', 0],
      ['policies', 'policies', 0],
      ['polices', 'policies', 1],
      ['grpc-adress', 'grpc-address', 1],
      ['shutdown-dealy', 'shutdown-delay', 1],
      ['kitten', 'sitting', 3],
      ['', 'abc', 3],
      // Optimal string alignment: a swapped pair is not edited again.
      ['ca', 'abc', 3],
    ];
    for (const [a, b, d] of cases) {
      assert.equal(editDistance(a, b), d, `${a} -> ${b}`);
      assert.equal(editDistance(b, a), d, `${b} -> ${a}`);
    }
  });

  it('the nearest name is offered only within one edit up to 7 characters, two up to 11, three beyond', () => {
    const names = ['json', 'policy', 'policies', 'grpc-address', 'watch-stale-after'];
    const cases: [string, string | undefined][] = [
      ['jsno', 'json'],
      ['jsn', 'json'],
      ['js', undefined],
      ['polcy', 'policy'],
      ['polices', 'policies'],
      ['polcies', 'policies'],
      ['grpcaddres', 'grpc-address'],
      ['grpc-adr', undefined],
      ['watch-stale-aftr', 'watch-stale-after'],
      ['wach-stal-aftr', 'watch-stale-after'],
      ['wach-stl-aftr', undefined],
      ['WATCH-STALE-AFTER', 'watch-stale-after'],
      ['bogus', undefined],
    ];
    for (const [word, near] of cases) assert.equal(closest(word, names), near, word);
  });
});

const TABLE = [
  { key: 'source', flag: 'source', type: list, metavar: '<dir>', env: true, required: true, help: 'where to read from' },
  { key: 'dryRun', flag: 'dry-run', type: bool, help: 'change nothing' },
  { key: 'wait', flag: 'wait', type: duration(1), fallback: '30s', help: 'how long to wait' },
  { key: 'label', flag: 'label', type: optional(text), help: 'a label' },
] as const satisfies readonly Flag[];

const read = (argv: readonly string[], env: Record<string, string> = {}): ReturnType<typeof readCommandLine<typeof TABLE>> =>
  readCommandLine(TABLE, argv, env, { command: 'gatehouse demo', positionals: true });

function refused(argv: readonly string[]): readonly string[] {
  return usageProblems(() => read(argv), argv.join(' '));
}

describe('a command table', () => {
  it('gives typed values, where each came from, and the arguments', () => {
    const line = read(['--dry-run', 'a', '--source=/x', '--', '--wait'], { GATEHOUSE_SOURCE: '/ignored', GATEHOUSE_WAIT: '1s' });
    assert.ok(!line.help);
    assert.deepEqual(line.values, { source: ['/x'], dryRun: true, wait: 30_000, label: undefined });
    assert.deepEqual([...line.sources], [['source', 'flag'], ['dryRun', 'flag'], ['wait', 'default'], ['label', 'default']]);
    assert.deepEqual(line.positionals, ['a', '--wait']);
  });

  it('a required flag missing, a value missing and a value refused are all reported, once each', () => {
    assert.deepEqual(refused(['--wait', '0s', '--label']), ['--label needs a value', '--source (GATEHOUSE_SOURCE) is required', 'invalid --wait: "0s" is shorter than 1ms']);
    assert.deepEqual(refused(['--source=']), ['--source (GATEHOUSE_SOURCE) is required']);
    assert.deepEqual(refused(['--source', '/x', '-vx']), ['unknown flag -vx (gatehouse demo --help lists the flags)']);
    assert.deepEqual(refused(['--source', '/x', '--dry-run=perhaps']), ['invalid --dry-run: "perhaps" is not true or false']);
  });

  it('its help lists every row: placeholder, help, required, variable and default', () => {
    assert.equal(
      renderHelp({ usage: ['gatehouse demo [flags] <arg>...', 'gatehouse demo --help'], about: 'Demonstrates the table.', sections: [{ title: 'flags', rows: TABLE }] }),
      `usage: gatehouse demo [flags] <arg>...
       gatehouse demo --help

Demonstrates the table.

flags:
  --source <dir>
      where to read from
      required, GATEHOUSE_SOURCE
  --dry-run
      change nothing
  --wait <duration>
      how long to wait
      default 30s
  --label <text>
      a label
  -h, --help
      print this help
`,
    );
  });
});

function capture(env: Record<string, string> = {}): { io: { stdout: (t: string) => void; stderr: (t: string) => void; env: Record<string, string> }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env }, out: () => out, err: () => err };
}

describe('gatehouse token refuses a command line it cannot run, before reading a file or dialling Redis', () => {
  const MINT = ['mint', '--policies', '/nonexistent', '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'acme'];
  const REVOKE = ['revoke', '--policies', '/nonexistent', '--policy', 'shop/api', '--method', 'tokens', '--redis-url', 'redis://127.0.0.1:1'];
  const cases: [string, string[], Record<string, string>, string][] = [
    ['no subcommand', [], {}, 'give a token command: mint or revoke (gatehouse token --help)'],
    ['a misspelt subcommand', ['mnit'], {}, 'unknown token command "mnit"; did you mean mint? (gatehouse token --help)'],
    [
      'mint without its required flags',
      ['mint'],
      {},
      ['--policies (GATEHOUSE_POLICIES) is required', '--policy is required', '--method is required', '--consumer is required'].join('\ngatehouse token: '),
    ],
    ['a misspelt flag', [...MINT, '--custom-di', 'c'], {}, 'unknown flag --custom-di; did you mean --custom-id?'],
    ['a flag of revoke given to mint', [...MINT, '--jti', 'j'], {}, 'unknown flag --jti (gatehouse token --help lists the flags)'],
    ['a ttl that is not a duration', [...MINT, '--ttl', 'soon'], {}, 'invalid --ttl: "soon" is not a duration such as 250ms, 20s, 1m'],
    ['a ttl of zero', [...MINT, '--ttl=0s'], {}, 'invalid --ttl: "0s" is shorter than 1ms'],
    ['a claim without a value', [...MINT, '--claim', 'tenant=acme', '--claim', 'tenant'], {}, 'invalid --claim: "tenant" is not name=value'],
    ['revoke with both --jti and --consumer', [...REVOKE, '--jti', 'j', '--consumer', 'acme'], {}, 'give exactly one of --jti and --consumer'],
    ['revoke with neither', REVOKE, {}, 'give exactly one of --jti and --consumer'],
    ['revoke with a time that is not RFC 3339', [...REVOKE, '--consumer', 'acme', '--before', 'yesterday'], {}, 'invalid --before: "yesterday" is not an RFC 3339 time such as 2025-01-31T12:00:00Z, or now'],
    ['revoke at a date that does not exist', [...REVOKE, '--consumer', 'acme', '--before', '2025-02-30T25:00:00Z'], {}, 'invalid --before: "2025-02-30T25:00:00Z" is not an RFC 3339 time such as 2025-01-31T12:00:00Z, or now'],
    [
      'revoke without a Redis',
      REVOKE.slice(0, -2).concat('--jti', 'j'),
      {},
      '--redis-url (or GATEHOUSE_REDIS_URL) is required: an in-memory revocation list lives only inside the serving process',
    ],
  ];
  for (const [name, argv, env, message] of cases) {
    it(`${name}: exit 2, one line per problem`, async () => {
      const c = capture(env);
      assert.equal(await runTokenCommand(argv, c.io), 2);
      assert.equal(c.err(), `gatehouse token: ${message}\n`);
      assert.equal(c.out(), '');
    });
  }

  it('--policies and --redis-url are read from GATEHOUSE_POLICIES and GATEHOUSE_REDIS_URL as serve reads them', async () => {
    const c = capture({ GATEHOUSE_POLICIES: '/nonexistent', GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:1' });
    assert.equal(await runTokenCommand(['revoke', '--policy', 'shop/api', '--method', 'tokens', '--jti', 'j'], c.io), 1);
    assert.equal(c.err(), "gatehouse token: --policies: ENOENT: no such file or directory, stat '/nonexistent'\n");
  });

  it('--help after either subcommand, or help, prints both tables', async () => {
    for (const argv of [['mint', '--help'], ['revoke', '-h'], ['help'], ['--help']]) {
      const c = capture();
      assert.equal(await runTokenCommand(argv, c.io), 0, argv.join(' '));
      assert.deepEqual([c.out(), c.err()], [TOKEN_HELP, ''], argv.join(' '));
    }
    assert.match(TOKEN_HELP, /^usage: gatehouse token mint \[flags\]\n {7}gatehouse token revoke \[flags\]\n/);
  });
});
