// A reference for what gatehouse must answer, written plainly and independently of src/: its own path
// normalization (regexes and a stack, slow and obvious), its own routing, its own key check. The fuzz
// test holds every answer of the real service to it.

export interface RefPolicy {
  readonly name: string;
  readonly host: string;
  readonly path: string;
  readonly methods?: readonly string[];
  readonly anonymous?: boolean;
  readonly skip?: { readonly path: string; readonly methods: readonly string[] };
  readonly caseInsensitive?: boolean;
  readonly stripParameters?: boolean;
  readonly allowEncodedSlashes?: boolean;
}

export interface RefRequest {
  readonly host: string;
  readonly method: string;
  /** Path with query, as sent. */
  readonly path: string;
  /** The x-api-key value as gatehouse will read it (repeated headers already joined), or undefined. */
  readonly key: string | undefined;
}

export type RefAnswer = { readonly allow: true; readonly policy: string } | { readonly allow: false; readonly status: number };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Normal form, or the HTTP status of the refusal (400). `slash` tells whether %2F/%5C appeared. */
export function refNormalize(raw: string): { path: string; slash: boolean } | undefined {
  const pathOnly = raw.split('?')[0] ?? '';
  if (!pathOnly.startsWith('/')) return undefined;
  if (/[\u0000-\u001f\u007f#\\]/.test(pathOnly)) return undefined;
  if (/%(?![0-9A-Fa-f]{2})/.test(pathOnly)) return undefined;
  if (/%(0[0-9A-Fa-f]|1[0-9A-Fa-f]|7[Ff])/.test(pathOnly)) return undefined;
  const slash = /%(2[Ff]|5[Cc])/.test(pathOnly);
  let decoded = pathOnly.replace(/%([0-9A-Fa-f]{2})/g, (all, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  decoded = Array.from(decoded)
    .map((ch) => {
      if (/^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]$/.test(ch)) return ch;
      return Array.from(new TextEncoder().encode(ch), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    })
    .join('');
  const stack: string[] = [];
  const segments = decoded.split('/').slice(1);
  let trailing = false;
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '' || seg === '.' || seg === '..') {
      if (seg === '..') stack.pop();
      trailing = last;
    } else {
      stack.push(seg);
      trailing = false;
    }
  });
  if (segments.some((s) => /^\.\.?;/.test(s))) return undefined;
  const path = '/' + stack.join('/') + (trailing && stack.length > 0 ? '/' : '');
  return { path, slash };
}

function under(path: string, prefix: string): boolean {
  return path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));
}

function view(p: RefPolicy, path: string): string {
  let v = path;
  if (p.stripParameters === true) v = v.replace(/;[^/]*/g, '').replace(/\/+/g, '/');
  return p.caseInsensitive === true ? v.toLowerCase() : v;
}

function hostOf(raw: string): string {
  let h = raw.toLowerCase();
  if (h.split(':').length === 2) h = h.split(':')[0] ?? '';
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The answer gatehouse must give. */
export function refDecide(policies: readonly RefPolicy[], req: RefRequest, validKey: string): RefAnswer {
  const normal = refNormalize(req.path);
  if (normal === undefined) return { allow: false, status: 400 };
  const host = hostOf(req.host);
  const method = req.method.toUpperCase();
  const wildcardHosts = policies.map((p) => p.host).filter((h) => h.startsWith('*.') && host.endsWith(h.slice(1)));
  wildcardHosts.sort((a, b) => b.length - a.length);
  const order = [host, ...new Set(wildcardHosts), '*'];
  for (const h of order) {
    const candidates = policies.filter((p) => p.host === h && under(view(p, normal.path), view(p, p.path)));
    const lengths = [...new Set(candidates.map((p) => view(p, p.path).length))].sort((a, b) => b - a);
    for (const len of lengths) {
      const here = candidates.filter((p) => view(p, p.path).length === len);
      const policy = here.find((p) => p.methods === undefined || p.methods.includes(method));
      if (policy === undefined) return { allow: false, status: 405 };
      if (normal.slash && policy.allowEncodedSlashes !== true) return { allow: false, status: 400 };
      if (policy.skip !== undefined && policy.skip.methods.includes(method) && under(view(policy, normal.path), policy.skip.path)) return { allow: true, policy: policy.name };
      const key = req.key?.trim();
      if (key === undefined || key === '') return policy.anonymous === true ? { allow: true, policy: policy.name } : { allow: false, status: 401 };
      return key === validKey ? { allow: true, policy: policy.name } : { allow: false, status: 401 };
    }
  }
  return normal.slash ? { allow: false, status: 400 } : { allow: false, status: 403 };
}
