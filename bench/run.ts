// `npm run bench`: runs every scenario and prints the tables. Exit 0 only when every scenario answered
// without errors and as it claims (allow vs deny); 1 otherwise or when h2load is missing; 2 for bad flags.
import { h2loadAvailable } from './h2load.js';
import { runBench } from './harness.js';
import { BenchUsageError, parseCli, USAGE } from './options.js';
import { formatJson, formatTable } from './report.js';
import { killAllServers } from './servers.js';
import { LOAD_CPU, pin, SERVER_CPU } from './affinity.js';

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof BenchUsageError) {
      process.stderr.write(`bench: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (cli.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cli.list) {
    for (const s of cli.bench.scenarios) process.stdout.write(`${s.name}\n`);
    return 0;
  }
  if (!h2loadAvailable()) {
    process.stderr.write('bench: h2load not found; install nghttp2-client (scripts/system-deps.sh does)\n');
    return 1;
  }
  if (pin(process.pid, LOAD_CPU)) process.stderr.write(`bench: servers pinned to CPU ${SERVER_CPU}, h2load to CPU ${LOAD_CPU}\n`);
  // Interrupted: the run stops what it started and removes its files; a second signal does not wait.
  const abort = new AbortController();
  let interrupted: number | undefined;
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
    process.on(signal, () => {
      if (interrupted !== undefined) void killAllServers().finally(() => process.exit(128 + number));
      interrupted = 128 + number;
      abort.abort();
    });
  }
  let report;
  try {
    report = await runBench({ ...cli.bench, signal: abort.signal, progress: (line) => process.stderr.write(`bench: ${line}\n`) });
  } catch (e) {
    if (interrupted === undefined) throw e;
    process.stderr.write('bench: interrupted\n');
    return interrupted;
  }
  process.stdout.write((cli.json ? formatJson(report) : formatTable(report)) + '\n');
  if (!report.ok) process.stderr.write('bench: some scenarios had errors or unexpected answers\n');
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
