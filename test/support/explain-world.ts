// Policy files loaded exactly as `gatehouse explain` and `serve --policies` load them, over session and
// revocation services the test holds (so it can prove an explain wrote nothing), with an injected clock:
// explain a described request, or decide it for real, as the service would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJwtServices, type JwtServices } from '../../src/authn/jwt/services.js';
import type { Decision } from '../../src/core/decision.js';
import { explain } from '../../src/core/explain.js';
import { type DescribedRequest, readRequest } from '../../src/core/explain-request.js';
import { CheckInput, type CheckInputInit } from '../../src/core/input.js';
import { Pipeline } from '../../src/core/pipeline.js';
import type { Explanation } from '../../src/core/trace.js';
import { type LoadedPolicies, loadWith } from '../../src/commands/explain-policies.js';
import { createSessionServices, type SessionRejectReason, type SessionServices } from '../../src/session/services.js';
import { MemoryRevocationList } from '../../src/revocation/revocation.js';

export interface WorldOptions {
  readonly now?: number;
  /** Fetch key sets and ask identity providers (an OIDC provider the test started). */
  readonly online?: boolean;
}

export class ExplainWorld {
  now: number;
  readonly rejected: SessionRejectReason[] = [];
  readonly sessions: SessionServices;
  readonly revocation: MemoryRevocationList;
  readonly jwt: JwtServices;
  readonly pipeline = new Pipeline({ onNoPolicy: 'deny' });
  #loaded: LoadedPolicies | undefined;
  #dir: string | undefined;

  constructor(options: WorldOptions = {}) {
    this.now = options.now ?? Date.now();
    const clock = (): number => this.now;
    this.sessions = createSessionServices({ onReject: (r) => void this.rejected.push(r) });
    this.revocation = new MemoryRevocationList({ clock });
    this.jwt = createJwtServices({ revocation: this.revocation, clock, jwks: { offline: options.online !== true } });
  }

  /** Writes the files to a fresh directory and loads them; `online` waits for identity providers. */
  async load(files: Readonly<Record<string, string>>, online = false): Promise<this> {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    this.#dir = dir;
    this.#loaded = await loadWith([dir], { clock: () => this.now, jwt: this.jwt, sessions: this.sessions }, { online }, async () => undefined);
    return this;
  }

  get loaded(): LoadedPolicies {
    if (this.#loaded === undefined) throw new Error('load() first');
    return this.#loaded;
  }

  explain(request: DescribedRequest): Promise<Explanation> {
    return explain(this.pipeline, this.loaded.index, init(request), this.now);
  }

  /** The real decision (no dry run), as the service decides. */
  async decide(request: DescribedRequest): Promise<Decision> {
    return this.pipeline.decide(this.loaded.index, new CheckInput(init(request)), this.now);
  }

  async close(): Promise<void> {
    await this.sessions.close();
    await this.jwt.close();
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A described request as the explain endpoint reads it; throws naming the problems. */
export function init(request: DescribedRequest): CheckInputInit {
  const read = readRequest(request);
  if (!read.ok) throw new Error(read.problems.join('\n'));
  return read.init;
}

/** The explanation as `--json` prints it (fields left out when absent). */
export function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
