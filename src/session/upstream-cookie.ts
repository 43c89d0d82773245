// The session cookie is gatehouse's credential, not the application's: a request it authenticated
// goes upstream without it (and without any part of a split one), other cookies untouched.
import { hide, type Hiding } from '../authn/credentials.js';
import { CheckInput } from '../core/input.js';
import { heldParts, partName, type CookieSpec } from './cookie.js';

const NOTHING: Hiding = Object.freeze({});

/** Upstream header changes that drop every part of the session cookie from the `Cookie` header. */
export function hideSessionCookie(input: CheckInput, spec: CookieSpec): Hiding {
  const held = heldParts(spec, input.cookies);
  let view = input;
  let hiding = NOTHING;
  for (let i = 1; i <= held; i++) {
    const name = partName(spec.name, i);
    if (!view.cookies.has(name)) continue;
    hiding = hide(view, { value: '', location: { kind: 'cookie', name } });
    const rewritten = hiding.setHeaders?.[0]?.value;
    // No rewritten header means no cookie is left: the whole header goes.
    if (rewritten === undefined) return hiding;
    // Split cookies are rare: each further part is hidden from what the previous step left.
    if (i < held) view = cookieOnly(input, rewritten);
  }
  return hiding;
}

function cookieOnly(input: CheckInput, cookie: string): CheckInput {
  return new CheckInput({ method: input.method, scheme: input.scheme, host: input.host, path: '/', headers: new Map([['cookie', cookie]]), peer: input.peer });
}
