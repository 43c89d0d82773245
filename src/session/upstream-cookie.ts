// The session cookie is gatehouse's credential, not the application's: a request it authenticated
// goes upstream without it (and without any part of a split one), other cookies untouched.
import type { Mutations } from '../core/respond.js';
import type { CheckInput } from '../core/input.js';
import { heldParts, partName, type CookieSpec } from './cookie.js';

const NOTHING: Mutations = Object.freeze({});

/** Upstream header changes that drop every part of the session cookie from the `Cookie` header. */
export function hideSessionCookie(input: CheckInput, spec: CookieSpec): Mutations {
  const held = heldParts(spec, input.cookies);
  const names: string[] = [];
  for (let i = 1; i <= held; i++) {
    const name = partName(spec.name, i);
    if (input.cookies.has(name)) names.push(name);
  }
  return names.length === 0 ? NOTHING : { removeCookies: names };
}
