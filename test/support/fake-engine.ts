// A CheckEngine whose decisions a test scripts, recording every call, so transport tests can
// prove what reaches the engine and what comes back out without any policy behind it.
import type { Allow, Decision, Deny } from '../../src/core/decision.js';
import type { CheckEngine } from '../../src/core/engine-port.js';
import { type GatehouseError, STATUS_FOR_KIND } from '../../src/core/errors.js';
import type { HeaderPair } from '../../src/core/identity.js';
import type { CheckInput } from '../../src/core/input.js';

export type Script = (input: CheckInput) => Decision | Promise<Decision>;

export interface Observation {
  readonly decision: Decision;
  readonly seconds: number;
  readonly input: CheckInput | undefined;
}

export class FakeEngine implements CheckEngine {
  /** What check() answers; replace per test. */
  script: Script = () => allow();
  /** What checkWithoutHttp() answers. */
  withoutHttp: Decision = deny({ status: 403, code: 'no_http_request' });
  readonly inputs: CheckInput[] = [];
  readonly rejected: GatehouseError[] = [];
  readonly observed: Observation[] = [];
  withoutHttpCalls = 0;
  readonly #keep: boolean;

  /** `keep: false` records no inputs or observations (a test that watches what the server lets go of). */
  constructor(options: { readonly keep?: boolean } = {}) {
    this.#keep = options.keep ?? true;
  }

  check(input: CheckInput): Decision | Promise<Decision> {
    if (this.#keep) this.inputs.push(input);
    return this.script(input);
  }

  checkWithoutHttp(): Decision {
    this.withoutHttpCalls++;
    return this.withoutHttp;
  }

  /** A plain deny per failure kind: status from STATUS_FOR_KIND, the public message as body. */
  reject(error: GatehouseError): Deny {
    this.rejected.push(error);
    return deny({
      status: STATUS_FOR_KIND[error.kind],
      code: error.code,
      headers: [{ name: 'content-type', value: 'text/plain' }],
      body: error.publicMessage,
      detail: error.message,
    });
  }

  observe(decision: Decision, seconds: number, input: CheckInput | undefined): void {
    if (this.#keep) this.observed.push({ decision, seconds, input });
  }

  /** Forgets what was recorded and goes back to allowing. */
  reset(): void {
    this.script = () => allow();
    this.inputs.length = 0;
    this.rejected.length = 0;
    this.observed.length = 0;
    this.withoutHttpCalls = 0;
  }
}

export interface AllowInit {
  readonly code?: string;
  readonly setHeaders?: readonly HeaderPair[];
  readonly removeHeaders?: readonly string[];
  readonly responseHeaders?: readonly HeaderPair[];
  readonly removeQuery?: readonly string[];
}

export function allow(init: AllowInit = {}): Allow {
  return {
    kind: 'allow',
    code: init.code ?? 'authenticated',
    policy: 'default/test',
    method: undefined,
    identity: undefined,
    setHeaders: init.setHeaders ?? [],
    removeHeaders: init.removeHeaders ?? [],
    responseHeaders: init.responseHeaders ?? [],
    removeQuery: init.removeQuery ?? [],
  };
}

export interface DenyInit {
  readonly status: number;
  readonly code: string;
  readonly headers?: readonly HeaderPair[];
  readonly body?: string;
  readonly detail?: string;
}

export function deny(init: DenyInit): Deny {
  return {
    kind: 'deny',
    code: init.code,
    policy: 'default/test',
    method: undefined,
    status: init.status,
    headers: init.headers ?? [],
    body: init.body ?? '',
    detail: init.detail ?? '',
  };
}

/** A promise that never settles, for deadline tests. */
export function never(): Promise<Decision> {
  return new Promise<Decision>(() => undefined);
}

/** A decision delivered after `ms` milliseconds. */
export function later(ms: number, decision: Decision): Promise<Decision> {
  return new Promise<Decision>((resolve) => setTimeout(resolve, ms, decision));
}
