#!/usr/bin/env node
// gatehouse serve | validate | help. One entry point, subcommands.
import { startGatehouse } from './main.js';
import { authPolicyCrdYaml } from './policy/crd.js';
import { envName, loadSettings, SETTINGS, SettingsError } from './settings.js';
import { runTokenCommand } from './commands/token.js';
import { validatePaths } from './commands/validate.js';

const USAGE = `usage: gatehouse <command> [flags]

commands:
  serve                    run the ext_authz gRPC server and the admin endpoint
  validate <file|dir>...   check AuthPolicy and Secret manifests as serve would compile them
  token mint|revoke ...    issue a token with a policy's jwt method, or revoke tokens (gatehouse token help)
  crd                      print the AuthPolicy CustomResourceDefinition
  help                     this text

serve flags (each also as an environment variable):
${SETTINGS.map((d) => `  --${d.flag.padEnd(20)} ${envName(d.flag).padEnd(32)} ${d.help}${d.fallback === '' ? '' : ` (default ${d.fallback})`}`).join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'validate': {
      if (rest.length === 0) {
        process.stderr.write('validate: give at least one file or directory\n');
        return 2;
      }
      const report = await validatePaths(rest);
      for (const line of report.lines) process.stdout.write(line + '\n');
      process.stdout.write(`${report.policies} policies, ${report.secrets} secrets, ${report.problems} problems\n`);
      return report.problems === 0 ? 0 : 1;
    }
    case 'token':
      return runTokenCommand(rest);
    case 'crd':
      process.stdout.write(authPolicyCrdYaml());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

async function serve(argv: string[]): Promise<number> {
  let settings;
  try {
    const loaded = loadSettings(argv, process.env);
    if (loaded.args.length > 0) throw new SettingsError(`unexpected argument "${loaded.args[0]}"`);
    settings = loaded.settings;
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(`gatehouse: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const running = await startGatehouse(settings);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`gatehouse: ${signal}, shutting down\n`);
      running.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
