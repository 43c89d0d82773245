// The answers gatehouse gives a browser itself during a login: the redirect to the provider, the
// 401 JSON a script gets instead (the body kong-oidc's README asks for), short error pages with a
// "start again" link (HTML for a navigation, JSON for a script), and the final redirect.
import type { Deny } from '../../core/decision.js';
import { STATUS_FOR_KIND, type GatehouseError } from '../../core/errors.js';
import type { HeaderPair } from '../../core/identity.js';
import type { CheckInput } from '../../core/input.js';

const NO_STORE: HeaderPair = Object.freeze({ name: 'cache-control', value: 'no-store' });

/**
 * Whether a request comes from a script rather than a page navigation: `X-Requested-With:
 * XMLHttpRequest`, an `Accept` asking JSON and not HTML, or a `Sec-Fetch-Mode` other than `navigate`.
 */
export function fromScript(input: CheckInput): boolean {
  if (input.header('x-requested-with')?.toLowerCase() === 'xmlhttprequest') return true;
  const accept = input.header('accept')?.toLowerCase();
  if (accept !== undefined && accept.includes('application/json') && !accept.includes('text/html')) return true;
  const mode = input.header('sec-fetch-mode');
  return mode !== undefined && mode.toLowerCase() !== 'navigate';
}

interface Answer {
  readonly code: string;
  readonly policy: string;
  readonly method: string;
  readonly detail: string;
}

/** A 302 to `location`, with cookies to set. */
export function redirect(a: Answer, location: string, cookies: readonly HeaderPair[]): Deny {
  return { kind: 'deny', ...a, status: 302, headers: [...cookies, NO_STORE, { name: 'location', value: location }], body: '' };
}

/** What a script gets instead of a redirect: 401 naming the login URL, with the login's cookie. */
export function loginRequired(a: Answer, input: CheckInput, loginUrl: string, cookies: readonly HeaderPair[]): Deny {
  const body = JSON.stringify({ status: 401, request_path: input.path, redirect_url: loginUrl });
  return { kind: 'deny', ...a, status: 401, headers: [...cookies, NO_STORE, { name: 'content-type', value: 'application/json' }], body };
}

/** An error page: the status of the error's kind, its public message, a link to start again. */
export function failurePage(error: GatehouseError, policy: string, method: string, input: CheckInput, startAgain: string, cookies: readonly HeaderPair[]): Deny {
  const status = STATUS_FOR_KIND[error.kind];
  const headers: HeaderPair[] = [...cookies, NO_STORE];
  let body: string;
  if (fromScript(input)) {
    headers.push({ name: 'content-type', value: 'application/json' });
    body = JSON.stringify({ code: error.code, message: error.publicMessage, login_url: startAgain });
  } else {
    headers.push({ name: 'content-type', value: 'text/html; charset=utf-8' });
    body =
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head>` +
      `<body><h1>${escape(error.publicMessage)}</h1><p><a href="${escape(startAgain)}">Start again</a></p></body></html>`;
  }
  return { kind: 'deny', code: error.code, policy, method, status, headers, body, detail: error.message };
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
