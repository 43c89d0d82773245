#!/usr/bin/env node
// gatehouse <command>: the one entry point, dispatching to src/commands/.
// Only light modules are imported statically: `serve` installs its signal handlers before the rest
// loads (see commands/serve.ts); the other commands load when they are asked for.
import './commands/jit-tiers.js';
import { readFileSync } from 'node:fs';
import { closest } from './args/flags.js';
import { PROCESS_IO, type RunCommand } from './commands/io.js';
import { runServe } from './commands/serve.js';

interface Command {
  /** The usage line's arguments after the name. */
  readonly args: string;
  readonly summary: string;
  readonly load: () => Promise<RunCommand>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  serve: { args: '[flags]', summary: 'run the ext_authz gRPC server and the admin endpoint', load: async () => runServe },
  validate: {
    args: '<file|dir>...',
    summary: 'check AuthPolicy and Secret manifests as serve would compile them',
    load: async () => (await import('./commands/validate.js')).runValidate,
  },
  check: {
    args: '--host <host> ...',
    summary: 'ask a running server about one request and print its decision',
    load: async () => (await import('./commands/check.js')).runCheck,
  },
  token: {
    args: 'mint|revoke [flags]',
    summary: "issue a token with a policy's jwt method, or revoke tokens",
    load: async () => (await import('./commands/token.js')).runTokenCommand,
  },
  crd: { args: '', summary: 'print the AuthPolicy CustomResourceDefinition', load: async () => (await import('./commands/crd.js')).runCrd },
  explain: {
    args: '[flags]',
    summary: 'why serve would allow or refuse a request, phase by phase',
    load: async () => (await import('./commands/explain.js')).runExplain,
  },
  test: {
    args: '<file|dir>... [flags]',
    summary: 'check requests against the answers expected (policy tests)',
    load: async () => (await import('./commands/test.js')).runTest,
  },
};

const USAGE = `usage: gatehouse <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${`${name} ${c.args}`.padEnd(28)}${c.summary}`)
  .join('\n')}
  ${'help [command]'.padEnd(28)}this text, or a command's flags (also: gatehouse <command> --help)

gatehouse --version prints the version.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case 'help':
    case '--help':
    case '-h': {
      if (rest[0] === undefined) {
        process.stdout.write(USAGE);
        return 0;
      }
      // `gatehouse help serve` is `gatehouse serve --help`.
      const command = find(rest[0]);
      return command === undefined ? 2 : (await command.load())(['--help'], PROCESS_IO);
    }
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    default: {
      const command = find(name);
      return command === undefined ? 2 : (await command.load())(rest, PROCESS_IO);
    }
  }
}

/** The command, or undefined after printing why there is none (with the nearest name). */
function find(name: string): Command | undefined {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    const near = closest(name, Object.keys(COMMANDS));
    process.stderr.write(`gatehouse: unknown command "${name}"${near === undefined ? '' : `; did you mean ${near}?`}\n${USAGE}`);
  }
  return command;
}

/** The version in package.json beside dist/ (a checkout, an `npm ci --omit=dev` install, the image). */
function packageVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  const pkg: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof pkg !== 'object' || pkg === null || !('version' in pkg) || typeof pkg.version !== 'string') {
    throw new Error(`${path.pathname} has no version`);
  }
  return pkg.version;
}

// Once a command is done nothing should hold the event loop. If something still does, the process
// exits anyway after this long and names what was left open (a bug to fix, not a reason to hang).
const EXIT_BACKSTOP_MS = 300;

function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => {
    process.stderr.write(`gatehouse: exiting with resources still open: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(code);
  }, EXIT_BACKSTOP_MS).unref();
}

main(process.argv.slice(2)).then(finish, (e: unknown) => {
  process.stderr.write(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n`);
  finish(1);
});
