// Reading a credential from where a policy says it is presented, and removing it before the request
// goes upstream. Shared by every method that reads a token from the request.
import type { HeaderPair } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import { shareEqual } from '../config/shared.js';

export interface LocationSpec {
  readonly header?: string | undefined;
  readonly prefix?: string | undefined;
  readonly query?: string | undefined;
  readonly cookie?: string | undefined;
}

/** Where a credential is read; `key` is what `presented()` answers: one per place, so two methods reading it share it. */
export type Location =
  | { readonly kind: 'header'; readonly name: string; readonly key: string; readonly prefix: string; readonly prefixLower: string }
  | { readonly kind: 'query'; readonly name: string; readonly key: string }
  | { readonly kind: 'cookie'; readonly name: string; readonly key: string };

export interface Found {
  readonly value: string;
  readonly location: Location;
}

/** Mutations that hide a presented credential from the upstream. */
export interface Hiding {
  readonly removeHeaders?: readonly string[];
  readonly removeQuery?: readonly string[];
  /** Cookies to drop from the upstream `Cookie` header (rewritten once, whoever asks). */
  readonly removeCookies?: readonly string[];
}

export function compileLocations(specs: readonly LocationSpec[]): readonly Location[] {
  return shareEqual(
    'locations',
    specs.map((s): Location => {
      if (s.header !== undefined) {
        const name = s.header.toLowerCase();
        const prefix = s.prefix ?? '';
        return { kind: 'header', name, key: `header:${name}`, prefix, prefixLower: prefix.toLowerCase() };
      }
      if (s.query !== undefined) return { kind: 'query', name: s.query, key: `query:${s.query}` };
      if (s.cookie !== undefined) return { kind: 'cookie', name: s.cookie, key: `cookie:${s.cookie}` };
      throw new Error('credential location without header, query or cookie');
    }),
  );
}

/** The key of the first location holding a credential, for Authenticator.presented. */
export function presentedAt(input: CheckInput, locations: readonly Location[]): string | undefined {
  for (const location of locations) {
    const value = read(input, location);
    if (value !== undefined && value !== '') return location.key;
  }
  return undefined;
}

/** The first location holding a non-empty credential. A header without the prefix is not ours. */
export function findCredential(input: CheckInput, locations: readonly Location[]): Found | undefined {
  for (const location of locations) {
    const value = read(input, location);
    if (value !== undefined && value !== '') return { value, location };
  }
  return undefined;
}

function read(input: CheckInput, location: Location): string | undefined {
  switch (location.kind) {
    case 'header': {
      const raw = input.header(location.name);
      if (raw === undefined) return undefined;
      if (location.prefix === '') return raw.trim();
      if (raw.length < location.prefix.length) return undefined;
      // Auth schemes are case-insensitive (RFC 7235); the spelling the policy wrote costs no copy.
      if (!raw.startsWith(location.prefix) && raw.slice(0, location.prefix.length).toLowerCase() !== location.prefixLower) return undefined;
      return raw.slice(location.prefix.length).trim();
    }
    case 'query':
      return input.query(location.name);
    case 'cookie':
      return input.cookie(location.name);
    default: {
      const never: never = location;
      throw new Error(`unknown location ${JSON.stringify(never)}`);
    }
  }
}

/** One frozen hiding per compiled location: every Check that hides it shares the list (and its encoding). */
const hidings = new WeakMap<Location, Hiding>();

export function hide(found: Found): Hiding {
  const location = found.location;
  let h = hidings.get(location);
  if (h === undefined) hidings.set(location, (h = hidingOf(location)));
  return h;
}

function hidingOf(location: Location): Hiding {
  const one = Object.freeze([location.name]);
  switch (location.kind) {
    case 'header':
      return Object.freeze({ removeHeaders: one });
    case 'query':
      return Object.freeze({ removeQuery: one });
    case 'cookie':
      return Object.freeze({ removeCookies: one });
    default: {
      const never: never = location;
      throw new Error(`unknown location ${JSON.stringify(never)}`);
    }
  }
}
