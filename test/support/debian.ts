// Debian packages the tests drive for real (redis-server, nginx, chromium), installed through apt-get
// when missing: once per machine, under a lock shared by test files running in parallel. A failed
// install fails the test loudly; nothing is ever skipped because a tool is missing.
import { spawn, spawnSync } from 'node:child_process';

const APT_LOCK = '/tmp/gatehouse-apt.lock';
const INSTALL_TIMEOUT_MS = 900_000;

export function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

const installing = new Map<string, Promise<void>>();

/** Makes `binary` available, installing Debian `pkg` when it is not on PATH. */
export function ensureDebianPackage(binary: string, pkg: string): Promise<void> {
  if (onPath(binary)) return Promise.resolve();
  let p = installing.get(pkg);
  if (p !== undefined) return p;
  p = new Promise<void>((resolve, reject) => {
    // flock serialises test files; the inner check skips apt for all but the first.
    const script =
      `command -v ${binary} >/dev/null 2>&1 || { apt-get update && ` +
      `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 ${pkg}; }`;
    const child = spawn('flock', ['-w', '900', APT_LOCK, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`TEST HARNESS: cannot run apt-get to install ${pkg}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && onPath(binary)) resolve();
      else reject(new Error(`TEST HARNESS: installing ${pkg} with apt-get failed (exit ${code ?? signal}).\n${output}`));
    });
  });
  installing.set(pkg, p);
  return p;
}
