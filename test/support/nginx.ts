// A real nginx (Debian package) in front of an application, protected by gatehouse's forward-auth with
// exactly the files shipped in deploy/nginx/: the test only supplies the two upstream addresses.
// Runs unprivileged in the foreground (master_process off), under a temp prefix, on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './debian.js';
import { repoRoot } from './tool-cache.js';

export interface Nginx {
  readonly port: number;
  readonly url: string;
  /** nginx's error log so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startNginx(gatehousePort: number, appPort: number, listenPort?: number): Promise<Nginx> {
  await ensureDebianPackage('nginx', 'nginx');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const port = listenPort ?? (await freePort());
  const shipped = join(repoRoot, 'deploy', 'nginx');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${join(dir, 'tmp', k)};`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
    access_log off;
${temp}
    upstream gatehouse { server 127.0.0.1:${gatehousePort}; keepalive 16; }
    upstream app { server 127.0.0.1:${appPort}; }
    server {
        listen 127.0.0.1:${port};
        include ${join(shipped, 'gatehouse-auth.conf')};
        location / {
            include ${join(shipped, 'gatehouse-protect.conf')};
            proxy_pass http://app;
        }
    }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = (): string => {
    let file = '';
    try {
      file = readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      // not written yet
    }
    return output + file;
  };
  await waitForPort(port, child, log);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not listen on ${port} within 10 s:\n${log()}`);
}
