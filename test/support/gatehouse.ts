// Starts gatehouse in-process on loopback with policies written to a temp directory, plus an
// Envoy-faithful Check client. Every test that needs the whole service uses this.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse, type Gatehouse, type Overrides } from '../../src/service/main.js';
import { loadSettings } from '../../src/service/settings.js';
import { createLogger, type Logger } from '../../src/telemetry/log.js';
import { createEnvoyClient, type EnvoyClient } from './envoy-client.js';

// The whole-service tests wait for reloads with it; re-exported so they need one import.
export { eventually } from './eventually.js';

export interface TestGatehouse {
  readonly gatehouse: Gatehouse;
  readonly envoy: EnvoyClient;
  readonly dir: string;
  readonly logs: string[];
  readonly admin: string;
  write(file: string, yaml: string): void;
  stop(): Promise<void>;
}

export interface TestOptions extends Overrides {
  readonly flags?: readonly string[];
}

export async function startTestGatehouse(files: Readonly<Record<string, string>>, options: TestOptions = {}): Promise<TestGatehouse> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  for (const [name, yaml] of Object.entries(files)) writeFileSync(join(dir, name), yaml);
  const logs: string[] = [];
  const logger: Logger = options.logger ?? createLogger('debug', (line) => void logs.push(line));
  const { settings } = loadSettings(
    ['--policies', dir, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '', '--shutdown-grace', '2s', '--shutdown-delay', '0s', ...(options.flags ?? [])],
    {},
  );
  const gatehouse = await startGatehouse(settings, { ...options, logger });
  const envoy = await createEnvoyClient(`127.0.0.1:${gatehouse.grpcPort}`);
  return {
    gatehouse,
    envoy,
    dir,
    logs,
    admin: `http://127.0.0.1:${gatehouse.adminPort}`,
    write: (file, yaml) => writeFileSync(join(dir, file), yaml),
    stop: async () => {
      envoy.close();
      await gatehouse.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
