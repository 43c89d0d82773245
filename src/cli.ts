#!/usr/bin/env node
// gatehouse serve | validate | help. One entry point, subcommands.
// Only light modules are imported statically: `serve` installs its signal handlers before the rest
// loads (seconds on a busy node), because node as PID 1 (the container image) drops a signal that
// arrives before a handler exists, and the process would then run on until SIGKILL.
import { envName, loadSettings, SETTINGS, SettingsError } from './settings.js';

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
      return serve(rest, stopOnSignal());
    case 'validate': {
      if (rest.length === 0) {
        process.stderr.write('validate: give at least one file or directory\n');
        return 2;
      }
      const { validatePaths } = await import('./commands/validate.js');
      const report = await validatePaths(rest);
      for (const line of report.lines) process.stdout.write(line + '\n');
      process.stdout.write(`${report.policies} policies, ${report.secrets} secrets, ${report.problems} problems\n`);
      return report.problems === 0 ? 0 : 1;
    }
    case 'token': {
      const { runTokenCommand } = await import('./commands/token.js');
      return runTokenCommand(rest);
    }
    case 'crd': {
      const { authPolicyCrdYaml } = await import('./policy/crd.js');
      process.stdout.write(authPolicyCrdYaml());
      return 0;
    }
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

/** Aborts on the first SIGTERM or SIGINT, at any point of startup or serving. */
function stopOnSignal(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    process.stderr.write(`gatehouse: ${signal}, shutting down\n`);
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return stop.signal;
}

async function serve(argv: string[], stop: AbortSignal): Promise<number> {
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
  // Nothing is open while the modules load: a signal then ends the process at once.
  const exitNow = (): never => process.exit(0);
  stop.addEventListener('abort', exitNow, { once: true });
  const [{ startGatehouse }, { isStartupAborted }, { createLogger }, { logGrpcLibraryTo }] = await Promise.all([
    import('./main.js'),
    import('./lifecycle.js'),
    import('./telemetry/log.js'),
    import('./transport/grpc.js'),
  ]);
  stop.removeEventListener('abort', exitNow);
  const logger = createLogger(settings.logLevel);
  logGrpcLibraryTo(logger.child({ component: 'grpc-js' }));
  let running;
  try {
    running = await startGatehouse(settings, { logger, signal: stop });
  } catch (e) {
    if (isStartupAborted(e)) return 0;
    throw e;
  }
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  await running.stop();
  return 0;
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
