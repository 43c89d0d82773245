// The real promtool (Debian's prometheus package) to check and unit-test alert rules. Only the
// binary is unpacked from the .deb into `.tools/`: installing the package would start a server.
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { installOnce, runCommand, runChecked, ToolInstallError } from './tool-cache.js';

// Shared with the other apt users of the test suite so that apt runs one at a time.
const APT_LOCK = '/tmp/gatehouse-apt.lock';

let cached: Promise<string> | undefined;

/** Returns the path of promtool, fetching the Debian package on first use. */
export function promtool(): Promise<string> {
  cached ??= (async () => {
    const dir = await installOnce('promtool', async (staging) => {
      let download = await runCommand('apt-get', ['download', 'prometheus'], { cwd: staging, timeoutMs: 300_000 });
      if (download.code !== 0) {
        // A fresh machine has no package lists yet.
        await runChecked('flock', ['-w', '600', APT_LOCK, 'apt-get', 'update'], { timeoutMs: 620_000 });
        download = await runCommand('apt-get', ['download', 'prometheus'], { cwd: staging, timeoutMs: 300_000 });
      }
      if (download.code !== 0) {
        throw new ToolInstallError(`apt-get download prometheus failed:\n${download.stderr}`);
      }
      const deb = (await readdir(staging)).find((f) => f.startsWith('prometheus_') && f.endsWith('.deb'));
      if (deb === undefined) throw new ToolInstallError('apt-get download prometheus left no .deb');
      const unpacked = join(staging, 'unpacked');
      await runChecked('dpkg-deb', ['-x', join(staging, deb), unpacked]);
      await rename(join(unpacked, 'usr', 'bin', 'promtool'), join(staging, 'promtool'));
      await rm(unpacked, { recursive: true, force: true });
      await rm(join(staging, deb), { force: true });
    });
    return join(dir, 'promtool');
  })();
  return cached;
}
