// Checks a sampled CheckResponse against its scenario's expectation.
import type { DecodedCheckResponse } from '../test/support/envoy-client.js';
import type { Expectation } from './scenarios.js';

/** undefined when the response is what the scenario claims to measure; otherwise what is wrong. */
export function mismatch(res: DecodedCheckResponse, expect: Expectation): string | undefined {
  switch (expect.kind) {
    case 'allow': {
      if (res.kind !== 'ok' || res.grpcCode !== 0) return `expected an allow, got ${res.kind} (status ${res.grpcCode} ${res.message})`;
      for (const [name, value] of Object.entries(expect.headers)) {
        const got = res.ok.headers.find((h) => h.key === name);
        if (got?.value !== value) return `expected ${name}: ${value}, got ${got === undefined ? 'no such header' : got.value}`;
      }
      return undefined;
    }
    case 'deny': {
      if (res.kind !== 'denied' || res.grpcCode === 0) return `expected a deny, got ${res.kind} (status ${res.grpcCode})`;
      if (res.denied.status !== expect.status) return `expected HTTP ${expect.status}, got ${String(res.denied.status)}`;
      if (res.message !== expect.code) return `expected code ${expect.code}, got ${res.message}`;
      return undefined;
    }
    default: {
      const never: never = expect;
      return `unknown expectation ${JSON.stringify(never)}`;
    }
  }
}
