// Which files hold manifests, and whether the paths a user named exist at all. Light (node:fs only):
// `serve` checks --policies with its other settings, before anything heavy loads.
import { readdirSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';

const MANIFEST = /\.(ya?ml|json)$/i;

/**
 * Manifest files under the given files or directories, sorted; hidden entries (`..data`) skipped. Paths
 * stay relative when given so (messages then show them as the user wrote them).
 */
export function listManifestFiles(paths: readonly string[]): string[] {
  const out = new Set<string>();
  const walk = (p: string, explicit: boolean): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (!name.startsWith('.')) walk(join(p, name), false);
    } else if (explicit || MANIFEST.test(p)) {
      out.add(p);
    }
  };
  for (const p of paths) walk(normalize(p), true);
  return [...out];
}

// What the common failures mean, in words; anything else keeps its own message.
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'no such file or directory (a part of it is a file)',
  EACCES: 'permission denied',
  ELOOP: 'too many symbolic links',
};

/** `<path>: <why>` for each path (as written) that cannot be read: missing, not permitted. */
export function unreadablePaths(paths: readonly string[]): string[] {
  const problems: string[] = [];
  for (const p of paths) {
    try {
      statSync(p);
    } catch (e) {
      const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : '';
      problems.push(`${p}: ${REASONS[code] ?? (e instanceof Error ? e.message : String(e))}`);
    }
  }
  return problems;
}
