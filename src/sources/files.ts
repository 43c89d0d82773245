// Policies and Secrets from YAML files and directories, watched. A file whose YAML cannot be read keeps
// its previous content serving; schema problems are handled per policy by the store (last good wins).
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PolicyResource, SecretResource } from '../config/resources.js';
import type { PolicyStore } from '../policy/store.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { listManifestFiles } from './manifest-paths.js';
import { settleMemoryLogged } from './settle-memory.js';
import { type FieldPosition, type Locate, type ManifestProblem, parseManifests, type ParsedManifests } from './manifests.js';

export { listManifestFiles } from './manifest-paths.js';

export interface LoadedFiles {
  readonly policies: PolicyResource[];
  readonly secrets: SecretResource[];
  readonly problems: ManifestProblem[];
  /** Files that cannot be read now and whose previous content keeps serving (see `serves`). */
  readonly kept: readonly string[];
  /** With `locate`: the line and column of a field of the resource from `origin` (`file#doc`). */
  readonly locate?: (origin: string, path: string) => FieldPosition | undefined;
}

export interface LoadOptions {
  /**
   * Whether the caller still serves what this file held at its last load: when the file's YAML
   * cannot be read now, its resources are left out and the file is listed in `kept`.
   */
  readonly serves?: (file: string) => boolean;
  /** Keep the parsed documents to tell where each field is (validate; not for a long-running source). */
  readonly locate?: boolean;
}

/** Reads and merges files; the first definition of a kind/namespace/name wins, later ones are reported. */
export function loadFiles(files: readonly string[], options: LoadOptions = {}): LoadedFiles {
  const policies = new Map<string, PolicyResource>();
  const secrets = new Map<string, SecretResource>();
  const problems: ManifestProblem[] = [];
  const kept: string[] = [];
  const locators = new Map<string, Locate>();
  for (const file of files) {
    let result: ParsedManifests;
    try {
      result = parseManifests(readFileSync(file, 'utf8'), file, { locate: options.locate === true });
    } catch (e) {
      result = { policies: [], secrets: [], unreadable: true, problems: [{ file, doc: 0, path: '', message: `cannot read: ${(e as Error).message}`, position: undefined }] };
    }
    problems.push(...result.problems);
    if (result.unreadable && options.serves?.(file) === true) {
      kept.push(file);
      continue;
    }
    if (result.locate !== undefined) locators.set(file, result.locate);
    const duplicate = (origin: string, message: string): void => {
      const doc = docOf(origin);
      problems.push({ file, doc, path: 'metadata.name', message, position: result.locate?.(doc, 'metadata.name') });
    };
    for (const p of result.policies) {
      const key = `${p.namespace}/${p.name}`;
      const first = policies.get(key);
      if (first !== undefined) duplicate(p.origin, `AuthPolicy ${key} is already defined in ${first.origin}; this one is ignored`);
      else policies.set(key, p);
    }
    for (const s of result.secrets) {
      const key = `${s.namespace}/${s.name}`;
      const first = secrets.get(key);
      if (first !== undefined) duplicate(s.origin, `Secret ${key} is already defined in ${first.origin}; this one is ignored`);
      else secrets.set(key, s);
    }
  }
  const loaded = { policies: [...policies.values()], secrets: [...secrets.values()], problems, kept };
  if (options.locate !== true) return loaded;
  const locate = (origin: string, path: string): FieldPosition | undefined => locators.get(fileOf(origin))?.(docOf(origin), path);
  return { ...loaded, locate };
}

function docOf(origin: string): number {
  return Number(origin.slice(origin.lastIndexOf('#') + 1));
}

/** The file of an origin `file#doc`. */
function fileOf(origin: string): string {
  return origin.slice(0, origin.lastIndexOf('#'));
}

export interface FileSourceOptions {
  readonly paths: readonly string[];
  readonly store: PolicyStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Quiet period after a change before re-reading (editors write in several steps). */
  readonly debounceMs?: number;
}

export class FileSource {
  readonly #o: FileSourceOptions;
  /**
   * The files delivered to the store at the last load. Their resources are not kept here: when a
   * file's YAML cannot be read, the store keeps serving what it holds from that file (this source
   * holds no parsed Secret, so no key material beyond the store's digests).
   */
  #served = new Set<string>();
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #reloads = 0;

  constructor(options: FileSourceOptions) {
    this.#o = options;
  }

  /** Number of completed reloads (the first load included). */
  get reloads(): number {
    return this.#reloads;
  }

  start(): void {
    this.reload();
    this.#o.store.markSynced();
    this.#o.metrics.sourceSynced.labels('files').set(1);
    settleMemoryLogged('load', this.#o.logger);
    const dirs = new Set<string>();
    for (const p of this.#o.paths) {
      const abs = resolve(p);
      dirs.add(statSync(abs).isDirectory() ? abs : dirname(abs));
    }
    for (const file of this.#served) dirs.add(dirname(resolve(file)));
    for (const dir of dirs) {
      const w = watch(dir, { persistent: false }, () => this.#changed());
      w.on('error', (e) => this.#o.logger.warn('cannot watch policy directory', { dir, error: e }));
      this.#watchers.push(w);
    }
  }

  /** Re-reads every file and hands the result to the store. */
  reload(): void {
    const { logger, metrics, store } = this.#o;
    let files: string[];
    try {
      files = listManifestFiles(this.#o.paths);
    } catch (e) {
      metrics.compileErrors.labels('files').inc();
      logger.error('cannot list policy files; keeping the current policies', { error: e });
      return;
    }
    const served = this.#served;
    const loaded = loadFiles(files, { serves: (file) => served.has(file) });
    this.#served = new Set(files);
    for (const p of loaded.problems) {
      metrics.compileErrors.labels('files').inc();
      logger.error('policy file problem', { file: p.file, doc: p.doc, line: p.position?.line, column: p.position?.column, field: p.path, problem: p.message });
    }
    const kept = new Set(loaded.kept);
    store.replaceAll(loaded.policies, loaded.secrets, kept.size === 0 ? undefined : (origin) => kept.has(fileOf(origin)));
    store.flush();
    this.#reloads++;
    logger.info('policy files loaded', { files: files.length, policies: loaded.policies.length, secrets: loaded.secrets.length });
  }

  #changed(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload();
    }, this.#o.debounceMs ?? 100);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
  }
}
