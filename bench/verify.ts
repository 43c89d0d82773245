// Checks an answer against its scenario's expectation: a decoded CheckResponse (gRPC), or the status
// and headers of a forward-auth answer (HTTP).
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

/** The same for a forward-auth answer: 200 with the headers, or the deny's status. */
export function httpMismatch(status: number, headers: Headers, expect: Expectation): string | undefined {
  switch (expect.kind) {
    case 'allow': {
      if (status !== 200) return `expected an allow (200), got ${status}`;
      for (const [name, value] of Object.entries(expect.headers)) {
        const got = headers.get(name);
        if (got !== value) return `expected ${name}: ${value}, got ${got ?? 'no such header'}`;
      }
      return undefined;
    }
    case 'deny':
      return status === expect.status ? undefined : `expected HTTP ${expect.status}, got ${status}`;
    default: {
      const never: never = expect;
      return `unknown expectation ${JSON.stringify(never)}`;
    }
  }
}

/** The tally key a Check answered as expected is counted under (see protocol.ts Tally). */
export function outcomeKey(expect: Expectation): string {
  return expect.kind === 'allow' ? 'allow' : `deny ${expect.code}`;
}
