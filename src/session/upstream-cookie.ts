// The session cookie is gatehouse's credential, not the application's: a request it authenticated
// goes upstream without it (and without any part of a split one), other cookies untouched.
import type { Mutations } from '../core/respond.js';
import type { CheckInput } from '../core/input.js';
import { heldParts, partOf, type CookieSpec } from './cookie.js';

const NOTHING: Mutations = Object.freeze({});
/** The usual case, a one-part cookie: one frozen answer per spec, shared by every Check (and its encoding). */
const whole = new WeakMap<CookieSpec, Mutations>();

/** Upstream header changes that drop every part of the session cookie from the `Cookie` header. */
export function hideSessionCookie(input: CheckInput, spec: CookieSpec): Mutations {
  const held = heldParts(spec, input.cookies);
  if (held === 0) return NOTHING;
  if (held === 1) return wholeCookie(spec);
  // A split cookie: each of its parts that the request carries (a missing part is not named).
  const names: string[] = [];
  for (let i = 1; i <= held; i++) {
    const name = partOf(spec, i);
    if (input.cookies.has(name)) names.push(name);
  }
  return { removeCookies: names };
}

function wholeCookie(spec: CookieSpec): Mutations {
  let m = whole.get(spec);
  if (m === undefined) whole.set(spec, (m = Object.freeze({ removeCookies: Object.freeze([spec.name]) })));
  return m;
}
