// The proxy configurations that ship: Envoy (gRPC and http_service), Istio, ingress-nginx, Traefik and
// plain nginx. Each points at Gatehouse's own ports, fails closed, and overwrites every identity header
// Gatehouse can set, so that a client's forged copy never reaches the application.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_IDENTITY_HEADERS } from '../src/core/identity.js';
import { ENVOY_PREFIX } from '../src/transport/http.js';
import { protoProblems } from './support/envoy-proto.js';
import { at, chartDir, findOne, GATEHOUSE_HOST, inventory, list, loadRepoYaml, type Manifest, parseManifests, record, str } from './support/manifests.js';
import { repoRoot } from './support/tool-cache.js';

const TIMEOUT = { timeout: 60_000 };
const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
/** Set by the OIDC method (userinfo and tokens); the shipped configurations already carry them. */
const OIDC_HEADERS = ['x-userinfo', 'x-access-token', 'x-id-token'];
/**
 * The one list: every header Gatehouse may set for the application. Every proxy configuration must
 * overwrite each of them (and Cookie, rewritten without the session cookie), or a client's copy passes.
 */
const UPSTREAM_HEADERS = [...DEFAULT_IDENTITY_HEADERS, ...OIDC_HEADERS, 'cookie'].sort();
/** ingress-nginx's check of a header name (internal/ingress/annotations/authreq: headerRegexp). */
const INGRESS_NGINX_HEADER = /^[a-zA-Z\d\-_]+$/;
/** The fields of Traefik v3's ForwardAuth middleware (pkg/config/dynamic/middlewares.go). */
const TRAEFIK_FORWARD_AUTH_FIELDS = [
  'address', 'tls', 'trustForwardHeader', 'authResponseHeaders', 'authResponseHeadersRegex', 'authRequestHeaders',
  'maxResponseBodySize', 'addAuthCookiesToResponse', 'headerField', 'forwardBody', 'maxBodySize',
  'preserveLocationHeader', 'preserveRequestMethod', 'authSigninURL',
];

/** The chart's default ports: the shipped configurations must ask Gatehouse where it listens. */
async function ports(): Promise<{ grpc: number; http: number; admin: number }> {
  const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8'));
  const port = (path: string): number => {
    const n = at(values, path);
    assert.equal(typeof n, 'number', path);
    return n as number;
  };
  return { grpc: port('grpc.port'), http: port('http.port'), admin: port('admin.port') };
}

async function manifests(path: string): Promise<Manifest[]> {
  return parseManifests(await readFile(join(repoRoot, path), 'utf8'));
}

const lower = (names: readonly unknown[]): string[] => names.map((n) => str(n, 'header name').toLowerCase()).sort();
const exactPatterns = (matcher: unknown): string[] => list(at(matcher, 'patterns'), 'patterns').map((p) => str(at(p, 'exact'), 'exact pattern'));

interface EnvoyBootstrap {
  readonly bootstrap: unknown;
  /** The HttpConnectionManager's typed_config. */
  readonly hcm: Record<string, unknown>;
  readonly authz: Record<string, unknown>;
  readonly clusters: Record<string, unknown>[];
}

/** What both Envoy bootstraps share: one listener, ext_authz before the router, closed on failure. */
async function envoyBootstrap(path: string): Promise<EnvoyBootstrap> {
  const [bootstrap] = await loadRepoYaml(path);
  const listeners = list(at(bootstrap, 'static_resources.listeners'), 'listeners');
  assert.equal(listeners.length, 1);
  const filter = record(at(listeners[0], 'filter_chains.0.filters.0'), 'network filter');
  assert.equal(filter['name'], 'envoy.filters.network.http_connection_manager');
  const hcm = record(filter['typed_config'], 'HttpConnectionManager');
  const filters = list(hcm['http_filters'], 'http_filters');
  assert.deepEqual(filters.map((f) => at(f, 'name')), ['envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
  const authz = record(at(filters[0], 'typed_config'), 'ext_authz config');
  assert.equal(authz['@type'], 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz');
  assert.equal(authz['failure_mode_allow'], false);
  assert.deepEqual(authz['status_on_error'], { code: 'ServiceUnavailable' });
  assert.deepEqual(authz['with_request_body'], { max_request_bytes: 8192, allow_partial_message: true, pack_as_bytes: false });
  // Envoy routes and Gatehouse decide on the same path, and look-alike headers never reach the app.
  assert.equal(hcm['normalize_path'], true);
  assert.equal(hcm['merge_slashes'], true);
  assert.equal(hcm['path_with_escaped_slashes_action'], 'REJECT_REQUEST');
  assert.equal(at(hcm, 'common_http_protocol_options.headers_with_underscores_action'), 'REJECT_REQUEST');

  const routes = list(at(hcm, 'route_config.virtual_hosts.0.routes'), 'routes');
  const disabled = routes.filter((r) => at(r, 'typed_per_filter_config') !== undefined);
  assert.equal(disabled.length, 1, 'one route bypasses ext_authz');
  assert.deepEqual(at(disabled[0], 'match'), { path: '/healthz' });
  assert.deepEqual(at(disabled[0], 'typed_per_filter_config'), {
    'envoy.filters.http.ext_authz': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      disabled: true,
    },
  });
  const clusters = list(at(bootstrap, 'static_resources.clusters'), 'clusters').map((c, i) => record(c, `cluster ${i}`));
  for (const r of routes) {
    assert.ok(clusters.some((c) => c['name'] === at(r, 'route.cluster')), `route target ${String(at(r, 'route.cluster'))} is defined`);
  }
  return { bootstrap, hcm, authz, clusters };
}

function cluster(b: EnvoyBootstrap, name: string): Record<string, unknown> {
  const found = b.clusters.find((c) => c['name'] === name);
  assert.ok(found !== undefined, `cluster ${name} is defined`);
  return found;
}

test('the Envoy bootstrap checks every request with Gatehouse over gRPC and fails closed', TIMEOUT, async () => {
  const b = await envoyBootstrap('deploy/envoy/envoy.yaml');
  assert.equal(b.authz['transport_api_version'], 'V3');
  assert.deepEqual(b.authz['grpc_service'], { envoy_grpc: { cluster_name: 'gatehouse' }, timeout: '0.2s' });
  const gatehouse = cluster(b, 'gatehouse');
  const protocolOptions = record(gatehouse['typed_extension_protocol_options'], 'typed_extension_protocol_options');
  const options = record(protocolOptions['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'], 'HttpProtocolOptions');
  assert.equal(options['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
  assert.deepEqual(at(options, 'explicit_http_config'), { http2_protocol_options: {} });
  assert.deepEqual(at(gatehouse, 'load_assignment.endpoints.0.lb_endpoints.0.endpoint.address.socket_address'), {
    address: GATEHOUSE_HOST,
    port_value: (await ports()).grpc,
  });
  assert.deepEqual(at(gatehouse, 'health_checks.0.grpc_health_check'), {});
});

test('the Envoy http_service bootstrap asks Gatehouse on its HTTP port under /envoy and passes identity both ways', TIMEOUT, async () => {
  const p = await ports();
  const b = await envoyBootstrap('deploy/envoy/http-service.yaml');
  assert.equal(b.authz['grpc_service'], undefined);
  assert.deepEqual(Object.keys(record(b.authz['http_service'], 'http_service')).sort(), ['authorization_response', 'path_prefix', 'server_uri']);
  assert.deepEqual(at(b.authz, 'http_service.server_uri'), { uri: `http://${GATEHOUSE_HOST}:${p.http}`, cluster: 'gatehouse_http', timeout: '0.2s' });
  assert.equal(at(b.authz, 'http_service.path_prefix'), ENVOY_PREFIX);
  // What Gatehouse needs to decide: credentials and the request's own description. Envoy adds Host,
  // Method, Path, Content-Length and Authorization by itself.
  assert.deepEqual(exactPatterns(b.authz['allowed_headers']), [
    'cookie', 'apikey', 'x-api-key', 'content-type', 'x-request-id', 'x-forwarded-proto', 'x-forwarded-for',
  ]);
  const response = record(at(b.authz, 'http_service.authorization_response'), 'authorization_response');
  assert.deepEqual(Object.keys(response).sort(), ['allowed_client_headers', 'allowed_client_headers_on_success', 'allowed_upstream_headers']);
  assert.deepEqual(lower(exactPatterns(response['allowed_upstream_headers'])), UPSTREAM_HEADERS);
  assert.deepEqual(exactPatterns(response['allowed_client_headers']), ['set-cookie', 'www-authenticate', 'location', 'content-type', 'cache-control']);
  assert.deepEqual(exactPatterns(response['allowed_client_headers_on_success']), ['set-cookie']);

  // The same listener as the gRPC example in everything but the filter: paths, routes, headers.
  const grpc = await envoyBootstrap('deploy/envoy/envoy.yaml');
  const without = (hcm: Record<string, unknown>): Record<string, unknown> => ({ ...hcm, http_filters: undefined });
  assert.deepEqual(without(b.hcm), without(grpc.hcm));
  assert.deepEqual(cluster(b, 'app'), cluster(grpc, 'app'));

  // HTTP/1.1 to the forward-auth port; readiness from the admin port takes unready pods out.
  const http = cluster(b, 'gatehouse_http');
  assert.equal(http['typed_extension_protocol_options'], undefined, 'Gatehouse forward-auth speaks HTTP/1.1');
  const endpoint = at(http, 'load_assignment.endpoints.0.lb_endpoints.0.endpoint');
  assert.deepEqual(at(endpoint, 'address.socket_address'), { address: GATEHOUSE_HOST, port_value: p.http });
  assert.deepEqual(at(endpoint, 'health_check_config'), { port_value: p.admin });
  assert.deepEqual(at(http, 'health_checks.0.http_health_check'), { path: '/readyz' });
});

test('the Envoy TLS bootstrap is the gRPC one with mutual TLS to Gatehouse, verifying its Service name', TIMEOUT, async () => {
  const tls = await envoyBootstrap('deploy/envoy/envoy-tls.yaml');
  const plain = await envoyBootstrap('deploy/envoy/envoy.yaml');
  assert.deepEqual(tls.hcm, plain.hcm);
  assert.deepEqual(cluster(tls, 'app'), cluster(plain, 'app'));
  const { transport_socket: socket, ...rest } = cluster(tls, 'gatehouse');
  assert.deepEqual(rest, cluster(plain, 'gatehouse'), 'only the transport socket differs');
  assert.deepEqual(socket, {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: GATEHOUSE_HOST,
      common_tls_context: {
        // gRPC needs HTTP/2, which Gatehouse's TLS listener offers by ALPN.
        alpn_protocols: ['h2'],
        tls_certificates: [
          { certificate_chain: { filename: '/etc/envoy/gatehouse-client/tls.crt' }, private_key: { filename: '/etc/envoy/gatehouse-client/tls.key' } },
        ],
        validation_context: {
          trusted_ca: { filename: '/etc/envoy/gatehouse-client/ca.crt' },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: GATEHOUSE_HOST } }],
        },
      },
    },
  });
});

test('every key of the Envoy bootstraps is a field of Envoy\'s canonical protos, none deprecated', TIMEOUT, async () => {
  for (const path of ['deploy/envoy/envoy.yaml', 'deploy/envoy/envoy-tls.yaml', 'deploy/envoy/http-service.yaml']) {
    const [bootstrap] = await loadRepoYaml(path);
    assert.deepEqual(protoProblems(bootstrap, BOOTSTRAP), [], path);
  }
  // The check finds what Envoy would refuse or warn about: a misspelt field, the deprecated place of
  // allowed_headers, a duration without unit, an unknown enum value.
  const [copy] = await loadRepoYaml('deploy/envoy/http-service.yaml');
  const authz = record(at(copy, 'static_resources.listeners.0.filter_chains.0.filters.0.typed_config.http_filters.0.typed_config'), 'authz');
  const service = record(authz['http_service'], 'http_service');
  service['path_prefx'] = '/envoy';
  service['authorization_request'] = { allowed_headers: { patterns: [{ exact: 'cookie' }] } };
  record(service['server_uri'], 'server_uri')['timeout'] = 200;
  authz['status_on_error'] = { code: 'Teapot' };
  const where = 'static_resources.listeners.0.filter_chains.0.filters.0.typed_config.http_filters.0.typed_config';
  assert.deepEqual(protoProblems(copy, BOOTSTRAP).sort(), [
    `(root).${where}.http_service.authorization_request.allowed_headers: deprecated in envoy.extensions.filters.http.ext_authz.v3.AuthorizationRequest`,
    `(root).${where}.http_service.path_prefx: envoy.extensions.filters.http.ext_authz.v3.HttpService has no field path_prefx`,
    `(root).${where}.http_service.server_uri.timeout: 200 is not a duration such as 0.2s`,
    `(root).${where}.status_on_error.code: "Teapot" is not a value of envoy.type.v3.StatusCode`,
  ]);
});

test('Istio registers Gatehouse as an ext_authz provider and a CUSTOM policy uses it', TIMEOUT, async () => {
  const [mesh] = await loadRepoYaml('deploy/istio/mesh-config.yaml');
  const providers = list(at(mesh, 'meshConfig.extensionProviders'), 'extensionProviders');
  assert.equal(providers.length, 1);
  const provider = record(providers[0], 'provider');
  assert.deepEqual(at(provider, 'envoyExtAuthzGrpc.service'), GATEHOUSE_HOST);
  assert.equal(at(provider, 'envoyExtAuthzGrpc.port'), (await ports()).grpc);
  assert.equal(at(provider, 'envoyExtAuthzGrpc.timeout'), '0.2s');
  assert.equal(at(provider, 'envoyExtAuthzGrpc.failOpen'), false);
  assert.equal(at(mesh, 'meshConfig.pathNormalization.normalization'), 'MERGE_SLASHES');
  const policies = await loadRepoYaml('deploy/istio/authorization-policy.yaml');
  assert.equal(policies.length, 2);
  for (const policy of policies) {
    assert.equal(at(policy, 'apiVersion'), 'security.istio.io/v1');
    assert.equal(at(policy, 'kind'), 'AuthorizationPolicy');
    assert.equal(at(policy, 'spec.action'), 'CUSTOM');
    assert.deepEqual(at(policy, 'spec.provider'), { name: provider['name'] });
    assert.deepEqual(at(policy, 'spec.rules.0.to.0.operation.notPaths'), ['/healthz']);
    // A Host with a port must not slip past a rule that names hosts.
    const hosts = at(policy, 'spec.rules.0.to.0.operation.hosts');
    if (hosts !== undefined) {
      for (const h of list(hosts, 'hosts')) if (typeof h === 'string' && !h.includes(':')) assert.ok(list(hosts, 'hosts').includes(`${h}:*`), `${h} is also listed with any port`);
    }
  }
});

const ANNOTATION = 'nginx.ingress.kubernetes.io/';
const annotation = (ingress: Manifest, name: string): string =>
  str(record(at(ingress.raw, 'metadata.annotations'), 'annotations')[`${ANNOTATION}${name}`], name);

test('the ingress-nginx Ingress asks /auth/nginx, tells it the path, host and scheme itself, and needs no snippet', TIMEOUT, async () => {
  const objects = await manifests('deploy/ingress-nginx/ingress.yaml');
  assert.deepEqual(inventory(objects), ['ConfigMap/shop/gatehouse-auth-request', 'Ingress/shop/shop']);
  const ingress = findOne(objects, 'Ingress');
  assert.equal(ingress.apiVersion, 'networking.k8s.io/v1');
  assert.equal(at(ingress.raw, 'spec.ingressClassName'), 'nginx');
  const annotations = record(at(ingress.raw, 'metadata.annotations'), 'annotations');
  assert.deepEqual(Object.keys(annotations).sort(), [
    `${ANNOTATION}auth-always-set-cookie`,
    `${ANNOTATION}auth-proxy-set-headers`,
    `${ANNOTATION}auth-response-headers`,
    `${ANNOTATION}auth-url`,
  ]);
  assert.equal(annotations[`${ANNOTATION}auth-url`], `http://${GATEHOUSE_HOST}:${(await ports()).http}/auth/nginx`);
  assert.equal(annotations[`${ANNOTATION}auth-always-set-cookie`], 'true');
  const responseHeaders = str(annotations[`${ANNOTATION}auth-response-headers`], 'auth-response-headers').split(',');
  for (const h of responseHeaders) assert.match(h, INGRESS_NGINX_HEADER);
  // The controller forwards the client's X-Original-URI and X-Forwarded-Host untouched and clears
  // X-Forwarded-Proto: the ConfigMap replaces all three with nginx's own values.
  const configMap = findOne(objects, 'ConfigMap');
  assert.equal(annotations[`${ANNOTATION}auth-proxy-set-headers`], configMap.name);
  assert.equal(configMap.namespace, ingress.namespace, 'ingress-nginx reads the ConfigMap from the Ingress namespace');
  assert.deepEqual(configMap.raw['data'], {
    'X-Original-URI': '$request_uri',
    'X-Forwarded-Host': '$host',
    'X-Forwarded-Proto': '$pass_access_scheme',
  });
  for (const h of Object.keys(record(configMap.raw['data'], 'data'))) assert.match(h, INGRESS_NGINX_HEADER);
});

/** An nginx configuration as a token stream: comments dropped, whitespace collapsed. */
const nginxTokens = (conf: string): string => conf.replace(/#.*$/gm, '').split(/\s+/).filter((t) => t !== '').join(' ');

test('the ingress-nginx browser Ingress carries exactly the nginx files of deploy/nginx as its snippets', TIMEOUT, async () => {
  const ingress = findOne(await manifests('deploy/ingress-nginx/ingress-browser.yaml'), 'Ingress', 'shop');
  const annotations = record(at(ingress.raw, 'metadata.annotations'), 'annotations');
  assert.deepEqual(Object.keys(annotations).sort(), [`${ANNOTATION}configuration-snippet`, `${ANNOTATION}server-snippet`]);
  const shipped = async (file: string): Promise<string> => readFile(join(repoRoot, 'deploy', 'nginx', file), 'utf8');
  // Only Gatehouse's address (no upstream block here: resolved when asked) and the scheme differ.
  const replace = (text: string, from: string, to: string): string => {
    assert.equal(text.split(from).length, 2, `deploy/nginx holds "${from}" once`);
    return text.replace(from, to);
  };
  let server = replace(
    await shipped('gatehouse-auth.conf'),
    'proxy_pass http://gatehouse/auth/nginx;',
    `set $gatehouse_auth_url http://${GATEHOUSE_HOST}:${(await ports()).http}/auth/nginx; proxy_pass $gatehouse_auth_url;`,
  );
  server = replace(server, 'X-Forwarded-Proto $scheme;', 'X-Forwarded-Proto $pass_access_scheme;');
  assert.equal(nginxTokens(str(annotations[`${ANNOTATION}server-snippet`], 'server-snippet')), nginxTokens(server));
  assert.equal(nginxTokens(str(annotations[`${ANNOTATION}configuration-snippet`], 'configuration-snippet')), nginxTokens(await shipped('gatehouse-protect.conf')));
});

test('the Traefik middleware asks /auth/traefik with its own X-Forwarded-* and hands every identity header over', TIMEOUT, async () => {
  const middleware = findOne(await manifests('deploy/traefik/middleware.yaml'), 'Middleware', 'gatehouse');
  assert.equal(middleware.apiVersion, 'traefik.io/v1alpha1');
  const forwardAuth = record(at(middleware.raw, 'spec.forwardAuth'), 'forwardAuth');
  assert.deepEqual(Object.keys(forwardAuth).filter((k) => !TRAEFIK_FORWARD_AUTH_FIELDS.includes(k)), [], 'ForwardAuth fields');
  assert.deepEqual({ ...forwardAuth, authResponseHeaders: undefined }, {
    address: `http://${GATEHOUSE_HOST}:${(await ports()).http}/auth/traefik`,
    trustForwardHeader: false,
    preserveLocationHeader: true,
    authResponseHeaders: undefined,
    authResponseHeadersRegex: '_',
    // The default session cookie and the names of its parts (session/cookie.ts partName, 8 at most).
    addAuthCookiesToResponse: ['gh_session', ...[2, 3, 4, 5, 6, 7, 8].map((i) => `gh_session_${i}`)],
    forwardBody: false,
  });
  // Traefik deletes every header the regex matches from the upstream request: the look-alikes only.
  const regex = new RegExp(str(forwardAuth['authResponseHeadersRegex'], 'regex'));
  assert.deepEqual(['X_consumer_id', 'X-Consumer-Id', 'Cookie'].filter((h) => regex.test(h)), ['X_consumer_id']);

  const route = findOne(await manifests('deploy/traefik/ingressroute.yaml'), 'IngressRoute', 'shop');
  assert.equal(route.apiVersion, 'traefik.io/v1alpha1');
  assert.equal(route.namespace, middleware.namespace, 'an IngressRoute uses middlewares of its own namespace');
  const routes = list(at(route.raw, 'spec.routes'), 'routes');
  assert.ok(routes.length > 0);
  for (const r of routes) assert.deepEqual(at(r, 'middlewares.0'), { name: middleware.name }, 'gatehouse runs first');
});

test('every identity header Gatehouse can set is overwritten by every shipped proxy configuration', TIMEOUT, async () => {
  const nginxOverwrites = (conf: string): string[] => lower([...conf.matchAll(/^\s*proxy_set_header\s+(\S+)\s+\$gatehouse_\w+;/gm)].map((m) => m[1]));
  const ingress = findOne(await manifests('deploy/ingress-nginx/ingress.yaml'), 'Ingress');
  const browser = findOne(await manifests('deploy/ingress-nginx/ingress-browser.yaml'), 'Ingress');
  const traefik = findOne(await manifests('deploy/traefik/middleware.yaml'), 'Middleware');
  const envoy = await envoyBootstrap('deploy/envoy/http-service.yaml');
  const lists: Record<string, string[]> = {
    'deploy/nginx/gatehouse-protect.conf': nginxOverwrites(await readFile(join(repoRoot, 'deploy/nginx/gatehouse-protect.conf'), 'utf8')),
    'ingress-nginx auth-response-headers': lower(annotation(ingress, 'auth-response-headers').split(',')),
    'ingress-nginx browser configuration-snippet': nginxOverwrites(annotation(browser, 'configuration-snippet')),
    'Traefik authResponseHeaders': lower(list(at(traefik.raw, 'spec.forwardAuth.authResponseHeaders'), 'authResponseHeaders')),
    'Envoy allowed_upstream_headers': lower(exactPatterns(at(envoy.authz, 'http_service.authorization_response.allowed_upstream_headers'))),
  };
  for (const [where, names] of Object.entries(lists)) assert.deepEqual(names, UPSTREAM_HEADERS, where);
});
