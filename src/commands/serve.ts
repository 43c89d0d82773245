// `gatehouse serve`: settings, then the service until SIGTERM or SIGINT.
// This module stays light (settings only): cli.ts loads it before anything else, so the signal
// handlers exist before the heavy modules load (seconds on a busy node). Node as PID 1 (the container
// image) drops a signal that arrives before a handler exists, and the process would then run on
// until SIGKILL.
import { startedUp, startingUp } from '../service/startup-heap.js';
import { readSettings, SERVE_HELP, type ServeCommandLine, straySettingVariables } from '../service/settings.js';
import { type CommandIo, PROCESS_IO, usageFailed } from './io.js';

export async function runServe(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const stop = stopOnSignal(io);
  let line: ServeCommandLine;
  try {
    line = readSettings(argv, io.env);
  } catch (e) {
    // A misspelt variable is the likely cause of a missing setting: warn before the errors.
    warnStrayVariables(io);
    return usageFailed(e, io, 'gatehouse');
  }
  if (line.help) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  warnStrayVariables(io);
  const settings = line.settings;
  // Nothing is open while the modules load: a signal then ends the process at once.
  const exitNow = (): never => process.exit(0);
  stop.addEventListener('abort', exitNow, { once: true });
  startingUp();
  const [{ startGatehouse }, { isStartupAborted }, { createLogger }, { logGrpcLibraryTo }] = await Promise.all([
    import('../service/main.js'),
    import('../service/lifecycle.js'),
    import('../telemetry/log.js'),
    import('../transport/grpc.js'),
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
  } finally {
    startedUp();
  }
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  await running.stop();
  return 0;
}

/** Aborts on the first SIGTERM or SIGINT, at any point of startup or serving. */
function stopOnSignal(io: CommandIo): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    io.stderr(`gatehouse: ${signal}, shutting down\n`);
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return stop.signal;
}

function warnStrayVariables(io: CommandIo): void {
  for (const w of straySettingVariables(io.env)) io.stderr(`gatehouse: warning: ${w}\n`);
}
