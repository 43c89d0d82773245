// The Helm chart, checked with the real helm binary: lint, schema, and the rendered objects.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { helm } from './support/k8s-tools.js';
import {
  at, chartDir, container, findAll, findOne, inventory, isRecord, list, NAMESPACE, parseManifests,
  probePort, rbacGrants, record, RELEASE, renderChart, valuePaths, WATCH_GRANTS,
} from './support/manifests.js';
import { repoRoot } from './support/tool-cache.js';
import { loadSettings } from '../src/service/settings.js';

const FULL = join(repoRoot, 'test', 'fixtures', 'helm', 'full-values.yaml');
/** What `helm template` assumes of a cluster with the Prometheus Operator. */
const PROMETHEUS_OPERATOR = ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor', '--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'];
const BAD = join(repoRoot, 'test', 'fixtures', 'helm', 'bad-values.yaml');
const NAME = `${RELEASE}-gatehouse`;
const TIMEOUT = { timeout: 120_000 };

test('helm lint passes with the default values', TIMEOUT, async () => {
  const result = await helm(['lint', '--strict', chartDir]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('helm lint passes with every option set (full-values fixture)', TIMEOUT, async () => {
  const result = await helm(['lint', '--strict', chartDir, '-f', FULL]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('the default render holds exactly the expected objects', TIMEOUT, async () => {
  const objects = await renderChart();
  assert.deepEqual(inventory(objects), [
    `ClusterRole/${NAME}`,
    `ClusterRoleBinding/${NAME}`,
    `Deployment/${NAMESPACE}/${NAME}`,
    `PodDisruptionBudget/${NAMESPACE}/${NAME}`,
    `Service/${NAMESPACE}/${NAME}`,
    `Service/${NAMESPACE}/${NAME}-metrics`,
    `ServiceAccount/${NAMESPACE}/${NAME}`,
  ]);
});

const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

test('the pod runs as a numeric non-root user on a read-only root filesystem, without privileges', TIMEOUT, async () => {
  const deployment = findOne(await renderChart(), 'Deployment');
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.securityContext'), {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    fsGroup: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(container(deployment)['securityContext'], CONTAINER_SECURITY);
});

test('podSecurityContext and securityContext are the values given, merged over the defaults', TIMEOUT, async () => {
  const deployment = findOne(await renderChart(['-f', FULL]), 'Deployment');
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.securityContext'), {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    fsGroup: 10001,
    fsGroupChangePolicy: 'OnRootMismatch',
    supplementalGroups: [10002],
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(container(deployment)['securityContext'], {
    ...CONTAINER_SECURITY,
    seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/gatehouse.json' },
  });
});

test('OpenShift restricted-v2: user, group and fsGroup set to null are left out for the platform to assign', TIMEOUT, async () => {
  const nulls = ['podSecurityContext.runAsUser', 'podSecurityContext.runAsGroup', 'podSecurityContext.fsGroup', 'securityContext.runAsUser'];
  const deployment = findOne(await renderChart(nulls.flatMap((key) => ['--set', `${key}=null`])), 'Deployment');
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.securityContext'), { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(container(deployment)['securityContext'], CONTAINER_SECURITY);
});

test('liveness probes /healthz and readiness probes /readyz on the admin port', TIMEOUT, async () => {
  for (const [args, adminPort] of [[[], 9090], [['-f', FULL], 8081]] as const) {
    const c = container(findOne(await renderChart(args), 'Deployment'));
    assert.equal(at(c, 'livenessProbe.httpGet.path'), '/healthz');
    assert.equal(at(c, 'startupProbe.httpGet.path'), '/healthz');
    assert.equal(at(c, 'readinessProbe.httpGet.path'), '/readyz');
    for (const probe of ['livenessProbe', 'startupProbe', 'readinessProbe']) {
      assert.equal(probePort(c, probe), adminPort, `${probe} port`);
    }
    assert.ok(list(c['args'], 'args').includes(`--admin-address=0.0.0.0:${adminPort}`));
  }
});

test('serve arguments, resources and a termination grace longer than the shutdown grace', TIMEOUT, async () => {
  const deployment = findOne(await renderChart(), 'Deployment');
  const c = container(deployment);
  assert.deepEqual(c['args'], [
    'serve',
    '--grpc-address=0.0.0.0:9001',
    '--http-address=0.0.0.0:9002',
    '--admin-address=0.0.0.0:9090',
    '--log-level=info',
    '--shutdown-delay=5s',
    '--shutdown-grace=20s',
    '--kubernetes',
  ]);
  assert.equal(at(deployment.raw, 'spec.template.spec.terminationGracePeriodSeconds'), 30);
  assert.equal(at(deployment.raw, 'spec.replicas'), 2);
  assert.deepEqual(c['resources'], { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } });
  assert.equal(c['image'], 'gatehouse/gatehouse:0.1.0');
  assert.equal(at(deployment.raw, 'spec.template.spec.automountServiceAccountToken'), true);
  assert.equal(at(deployment.raw, 'spec.template.spec.serviceAccountName'), NAME);
  // No GATEHOUSE_SERVICE_HOST, GATEHOUSE_PORT_9002_TCP, ... beside the GATEHOUSE_* settings.
  assert.equal(at(deployment.raw, 'spec.template.spec.enableServiceLinks'), false);

  const refused = await helm(['template', RELEASE, chartDir, '--set', 'terminationGracePeriodSeconds=25']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /terminationGracePeriodSeconds \(25\) must be greater than shutdownDelaySeconds \+ shutdownGraceSeconds \(25\)/);
});

test('pods spread over zones and hosts, selecting their own labels', TIMEOUT, async () => {
  const deployment = findOne(await renderChart(), 'Deployment');
  const podLabels = record(at(deployment.raw, 'spec.template.metadata.labels'), 'pod labels');
  const constraints = list(at(deployment.raw, 'spec.template.spec.topologySpreadConstraints'), 'constraints');
  assert.deepEqual(constraints.map((c) => at(c, 'topologyKey')), ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
  for (const constraint of constraints) {
    assert.equal(at(constraint, 'maxSkew'), 1);
    assert.equal(at(constraint, 'whenUnsatisfiable'), 'ScheduleAnyway');
    const selector = record(at(constraint, 'labelSelector.matchLabels'), 'matchLabels');
    for (const [key, value] of Object.entries(selector)) assert.equal(podLabels[key], value, `pod label ${key}`);
  }
  const off = findOne(await renderChart(['--set', 'topologySpread.enabled=false']), 'Deployment');
  assert.equal(at(off.raw, 'spec.template.spec.topologySpreadConstraints'), undefined);
});

test('a gRPC and forward-auth Service and a metrics Service, both selecting the pods', TIMEOUT, async () => {
  const objects = await renderChart();
  const podLabels = record(at(findOne(objects, 'Deployment').raw, 'spec.template.metadata.labels'), 'pod labels');
  const grpc = findOne(objects, 'Service', NAME);
  const metrics = findOne(objects, 'Service', `${NAME}-metrics`);
  assert.deepEqual(at(grpc.raw, 'spec.ports'), [
    { name: 'grpc', port: 9001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
    { name: 'http-auth', port: 9002, targetPort: 'http-auth', protocol: 'TCP', appProtocol: 'http' },
  ]);
  assert.deepEqual(at(metrics.raw, 'spec.ports'), [
    { name: 'http-metrics', port: 9090, targetPort: 'admin', protocol: 'TCP', appProtocol: 'http' },
  ]);
  assert.equal(at(grpc.raw, 'spec.clusterIP'), undefined);
  for (const service of [grpc, metrics]) {
    for (const [key, value] of Object.entries(record(at(service.raw, 'spec.selector'), 'selector'))) {
      assert.equal(podLabels[key], value);
    }
  }
  const headless = findOne(await renderChart(['--set', 'service.headless=true']), 'Service', NAME);
  assert.equal(at(headless.raw, 'spec.clusterIP'), 'None');
});

test('the HTTP forward-auth port: --http-address, container port http-auth and a Service port; off, none of them', TIMEOUT, async () => {
  const rendered = async (set: string[], name = NAME): Promise<{ args: unknown[]; ports: unknown; service: unknown }> => {
    const objects = await renderChart(set);
    const c = container(findOne(objects, 'Deployment', name));
    return {
      args: list(c['args'], 'args').filter((a) => typeof a === 'string' && a.startsWith('--http-address')),
      ports: c['ports'],
      service: at(findOne(objects, 'Service', name).raw, 'spec.ports'),
    };
  };
  const full = await rendered(['-f', FULL], 'edge-authn');
  assert.deepEqual(full.args, ['--http-address=0.0.0.0:8443']);
  assert.deepEqual(full.ports, [
    { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
    { name: 'http-auth', containerPort: 8443, protocol: 'TCP' },
    { name: 'admin', containerPort: 8081, protocol: 'TCP' },
  ]);
  // The full values serve TLS (tls.secretName).
  assert.deepEqual(full.service, [
    { name: 'grpc', port: 50051, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'https' },
    { name: 'http-auth', port: 8443, targetPort: 'http-auth', protocol: 'TCP', appProtocol: 'https' },
  ]);
  // Off: the flag is still passed, empty, so a GATEHOUSE_HTTP_ADDRESS from extraEnv cannot turn it on.
  const off = await rendered(['--set', 'http.enabled=false', '--set', 'http.port=9001']);
  assert.deepEqual(off.args, ['--http-address=']);
  assert.deepEqual(off.ports, [
    { name: 'grpc', containerPort: 9001, protocol: 'TCP' },
    { name: 'admin', containerPort: 9090, protocol: 'TCP' },
  ]);
  assert.deepEqual(off.service, [{ name: 'grpc', port: 9001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' }]);
});

test('two listeners on one port are refused, naming both values', TIMEOUT, async () => {
  const cases: [string[], string][] = [
    [['--set', 'http.port=9001'], 'grpc.port and http.port must differ (both 9001)'],
    [['--set', 'http.port=9090'], 'http.port and admin.port must differ (both 9090)'],
    [['--set', 'admin.port=9001'], 'grpc.port and admin.port must differ (both 9001)'],
    [['-f', FULL, '--set', 'http.port=8081'], 'http.port and admin.port must differ (both 8081)'],
  ];
  for (const [args, message] of cases) {
    const result = await helm(['template', RELEASE, chartDir, ...args]);
    assert.notEqual(result.code, 0, `helm template ${args.join(' ')} should fail`);
    assert.ok(result.stderr.includes(message), result.stderr);
  }
});

test('cluster-wide RBAC grants exactly read on AuthPolicies and Secrets and status writes, nothing else', TIMEOUT, async () => {
  const objects = await renderChart();
  assert.deepEqual(rbacGrants(findOne(objects, 'ClusterRole')), WATCH_GRANTS);
  assert.deepEqual(findAll(objects, 'Role'), []);
  const subject = [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }];
  const crb = findOne(objects, 'ClusterRoleBinding');
  assert.deepEqual(crb.raw['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME });
  assert.deepEqual(crb.raw['subjects'], subject);
  assert.deepEqual(findAll(objects, 'RoleBinding'), []);
  const noRbac = await renderChart(['--set', 'rbac.create=false']);
  assert.deepEqual(noRbac.filter((o) => /Role/.test(o.kind)), []);
});

test('watchNamespaces: a Role and RoleBinding in each namespace and no cluster-wide access', TIMEOUT, async () => {
  const objects = await renderChart(['--set', 'kubernetes.watchNamespaces={shop,billing}']);
  assert.deepEqual(findAll(objects, 'ClusterRole'), []);
  assert.deepEqual(findAll(objects, 'ClusterRoleBinding'), []);
  for (const ns of ['shop', 'billing']) {
    const role = objects.find((o) => o.kind === 'Role' && o.namespace === ns);
    assert.ok(role !== undefined, `Role in ${ns}`);
    assert.equal(role.name, NAME);
    assert.deepEqual(rbacGrants(role), WATCH_GRANTS);
    const binding = objects.find((o) => o.kind === 'RoleBinding' && o.namespace === ns);
    assert.ok(binding !== undefined, `RoleBinding in ${ns}`);
    assert.deepEqual(binding.raw['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME });
    assert.deepEqual(binding.raw['subjects'], [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }]);
  }
  assert.deepEqual(
    findAll(objects, 'Role').map((r) => r.namespace).sort(),
    ['billing', 'shop'],
  );
  const args = list(container(findOne(objects, 'Deployment'))['args'], 'args');
  assert.ok(args.includes('--watch-namespace=shop,billing'), JSON.stringify(args));
});

test('policySource=files mounts the ConfigMap read-only and asks for no API access', TIMEOUT, async () => {
  const objects = await renderChart(['--set', 'policySource=files', '--set', 'files.configMap=my-policies']);
  assert.deepEqual(objects.filter((o) => /Role/.test(o.kind)), []);
  const deployment = findOne(objects, 'Deployment');
  const c = container(deployment);
  const args = list(c['args'], 'args');
  assert.ok(args.includes('--policies=/etc/gatehouse/policies'));
  assert.ok(!args.includes('--kubernetes'));
  assert.deepEqual(c['volumeMounts'], [{ name: 'policies', mountPath: '/etc/gatehouse/policies', readOnly: true }]);
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.volumes'), [{ name: 'policies', configMap: { name: 'my-policies' } }]);
  assert.equal(at(deployment.raw, 'spec.template.spec.automountServiceAccountToken'), false);
  assert.equal(findOne(objects, 'ServiceAccount').raw['automountServiceAccountToken'], false);
});

test('the Redis URL comes from an existing Secret through secretKeyRef', TIMEOUT, async () => {
  const env = async (args: string[]): Promise<unknown[]> =>
    list(container(findOne(await renderChart(args), 'Deployment'))['env'], 'env').filter(
      (e) => at(e, 'name') === 'GATEHOUSE_REDIS_URL',
    );
  assert.deepEqual(await env([]), []);
  assert.deepEqual(await env(['--set', 'redis.existingSecret=gatehouse-redis']), [
    { name: 'GATEHOUSE_REDIS_URL', valueFrom: { secretKeyRef: { name: 'gatehouse-redis', key: 'url' } } },
  ]);
  assert.deepEqual(await env(['-f', FULL]), [
    { name: 'GATEHOUSE_REDIS_URL', valueFrom: { secretKeyRef: { name: 'gatehouse-redis', key: 'redis-url' } } },
  ]);
  assert.deepEqual(await env(['--set', 'redis.url=redis://redis.cache:6379/0']), [
    { name: 'GATEHOUSE_REDIS_URL', value: 'redis://redis.cache:6379/0' },
  ]);
  const both = await helm(
    ['template', RELEASE, chartDir, '--set', 'redis.url=redis://r:6379', '--set', 'redis.existingSecret=s'],
  );
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /set redis\.url or redis\.existingSecret, not both/);
});

test('redis.sessionCacheMaxAge becomes GATEHOUSE_REDIS_SESSION_CACHE_MAX_AGE, only when set, in a form serve reads', TIMEOUT, async () => {
  const env = async (args: string[]): Promise<unknown[]> =>
    list(container(findOne(await renderChart(args), 'Deployment'))['env'], 'env').filter(
      (e) => at(e, 'name') === 'GATEHOUSE_REDIS_SESSION_CACHE_MAX_AGE',
    );
  assert.deepEqual(await env([]), []);
  assert.deepEqual(await env(['--set', 'redis.sessionCacheMaxAge=']), []);
  assert.deepEqual(await env(['-f', FULL]), [{ name: 'GATEHOUSE_REDIS_SESSION_CACHE_MAX_AGE', value: '250ms' }]);
  for (const [value, ms] of [['0s', 0], ['2s', 2000], ['1m', 60_000]] as const) {
    const rendered = await env(['--set', `redis.sessionCacheMaxAge=${value}`]);
    assert.deepEqual(rendered, [{ name: 'GATEHOUSE_REDIS_SESSION_CACHE_MAX_AGE', value }]);
    const { settings } = loadSettings(['--policies', '/etc/gatehouse/policies'], { GATEHOUSE_REDIS_SESSION_CACHE_MAX_AGE: String(at(rendered[0], 'value')) });
    assert.equal(settings.redisSessionCacheMs, ms);
  }
});

test('optional objects: HPA, ServiceMonitor and PrometheusRule on, PDB off', TIMEOUT, async () => {
  const objects = await renderChart(['-f', FULL, ...PROMETHEUS_OPERATOR]);
  const name = 'edge-authn';
  const deployment = findOne(objects, 'Deployment', name);
  assert.equal(at(deployment.raw, 'spec.replicas'), undefined, 'the HPA owns the replica count');
  assert.equal(container(deployment)['image'], 'registry.example.com/platform/gatehouse@sha256:' + '0123456789abcdef'.repeat(4));
  const hpa = findOne(objects, 'HorizontalPodAutoscaler', name);
  assert.deepEqual(at(hpa.raw, 'spec.scaleTargetRef'), { apiVersion: 'apps/v1', kind: 'Deployment', name });
  assert.equal(at(hpa.raw, 'spec.minReplicas'), 3);
  assert.equal(at(hpa.raw, 'spec.maxReplicas'), 12);
  const targets = list(at(hpa.raw, 'spec.metrics'), 'metrics').map((m) => [
    at(m, 'resource.name'),
    at(m, 'resource.target.averageUtilization'),
  ]);
  assert.deepEqual(targets, [['cpu', 60], ['memory', 80]]);

  const monitor = findOne(objects, 'ServiceMonitor', name);
  assert.deepEqual(at(monitor.raw, 'spec.endpoints'), [
    { port: 'http-metrics', path: '/metrics', interval: '15s', scrapeTimeout: '5s' },
  ]);
  const metricsService = findOne(objects, 'Service', `${name}-metrics`);
  const serviceLabels = record(at(metricsService.raw, 'metadata.labels'), 'metrics service labels');
  for (const [key, value] of Object.entries(record(at(monitor.raw, 'spec.selector.matchLabels'), 'selector'))) {
    assert.equal(serviceLabels[key], value, `ServiceMonitor selects the metrics Service by ${key}`);
  }
  assert.equal(record(at(monitor.raw, 'metadata.labels'), 'labels')['release'], 'kube-prometheus-stack');

  const rule = findOne(objects, 'PrometheusRule', name);
  const shipped = record(parse(await readFile(join(repoRoot, 'deploy', 'monitoring', 'alerts.yaml'), 'utf8')), 'alerts.yaml');
  assert.deepEqual(rule.raw['spec'], shipped['spec'], 'the chart renders the same rules as deploy/monitoring/alerts.yaml');
  assert.equal(at(findOne(objects, 'PodDisruptionBudget', name).raw, 'spec.maxUnavailable'), '25%');

  const defaults = await renderChart(PROMETHEUS_OPERATOR);
  for (const kind of ['HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule']) {
    assert.deepEqual(findAll(defaults, kind), []);
  }
  assert.deepEqual(findAll(await renderChart(['--set', 'podDisruptionBudget.enabled=false']), 'PodDisruptionBudget'), []);
});

test('a ServiceMonitor or PrometheusRule asked for where the Prometheus Operator is missing is skipped, and the notes say so', TIMEOUT, async () => {
  const objects = await renderChart(['-f', FULL]);
  assert.deepEqual([...findAll(objects, 'ServiceMonitor'), ...findAll(objects, 'PrometheusRule')], []);
  const onlyMonitors = await renderChart(['-f', FULL, '--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor']);
  assert.deepEqual(inventory(onlyMonitors).filter((o) => /ServiceMonitor|PrometheusRule/.test(o)), ['ServiceMonitor/gatehouse-system/edge-authn']);
  const notes = await helm(['install', 'gatehouse', chartDir, '--dry-run=client', '--namespace', NAMESPACE, '-f', FULL]);
  assert.equal(notes.code, 0, notes.stderr);
  for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
    assert.ok(
      notes.stdout.includes(
        `  No ${kind} was created: this cluster has no monitoring.coreos.com/v1 ${kind} (install the\n  Prometheus Operator's CRDs; with helm template, pass --api-versions monitoring.coreos.com/v1/${kind}).`,
      ),
      notes.stdout,
    );
  }
});

test('tls.secretName: both Check ports serve the Secret, mounted whole so renewals arrive; mutual TLS from tls.clientCA; the Service says https', TIMEOUT, async () => {
  const objects = await renderChart(['-f', FULL]);
  const deployment = findOne(objects, 'Deployment', 'edge-authn');
  const c = container(deployment);
  assert.deepEqual(list(c['args'], 'args').filter((a) => String(a).startsWith('--tls-')), [
    '--tls-cert-file=/etc/gatehouse/tls/tls.crt',
    '--tls-key-file=/etc/gatehouse/tls/tls.key',
    '--tls-reload-interval=30s',
    '--tls-client-ca-file=/etc/gatehouse/tls-client-ca/ca.crt',
  ]);
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.volumes'), [
    { name: 'tls', secret: { secretName: 'edge-authn-tls', items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] } },
    { name: 'tls-client-ca', secret: { secretName: 'proxy-ca', items: [{ key: 'bundle.pem', path: 'ca.crt' }] } },
    { name: 'corporate-ca', configMap: { name: 'corporate-ca-bundle' } },
  ]);
  // No subPath: the kubelet does not update a file mounted by subPath when the Secret changes.
  assert.deepEqual(c['volumeMounts'], [
    { name: 'tls', mountPath: '/etc/gatehouse/tls', readOnly: true },
    { name: 'tls-client-ca', mountPath: '/etc/gatehouse/tls-client-ca', readOnly: true },
    { name: 'corporate-ca', mountPath: '/etc/ssl/corporate', readOnly: true },
  ]);
  assert.deepEqual(list(at(findOne(objects, 'Service', 'edge-authn').raw, 'spec.ports'), 'ports').map((p) => [at(p, 'name'), at(p, 'appProtocol')]), [
    ['grpc', 'https'],
    ['http-auth', 'https'],
  ]);
  // The probes stay on the plain admin port.
  assert.equal(at(c, 'readinessProbe.httpGet.port'), 'admin');

  const plain = container(findOne(await renderChart(), 'Deployment'));
  assert.deepEqual(list(plain['args'], 'args').filter((a) => String(a).startsWith('--tls-')), []);
  assert.equal(plain['volumeMounts'], undefined);

  const serverOnly = container(findOne(await renderChart(['--set', 'tls.secretName=gh-tls']), 'Deployment'));
  assert.deepEqual(list(serverOnly['args'], 'args').filter((a) => String(a).startsWith('--tls-')), [
    '--tls-cert-file=/etc/gatehouse/tls/tls.crt',
    '--tls-key-file=/etc/gatehouse/tls/tls.key',
    '--tls-reload-interval=10s',
  ]);

  const refused = await helm(['template', RELEASE, chartDir, '--set', 'tls.clientCA.secretName=proxy-ca']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /tls\.clientCA\.secretName needs tls\.secretName: client certificates are asked for over TLS only/);
});

test('extraVolumes and extraVolumeMounts join the policy files volume', TIMEOUT, async () => {
  const objects = await renderChart([
    '--set', 'policySource=files', '--set', 'files.configMap=my-policies',
    '--set', 'extraVolumes[0].name=redis-ca', '--set', 'extraVolumes[0].secret.secretName=redis-ca',
    '--set', 'extraVolumeMounts[0].name=redis-ca', '--set', 'extraVolumeMounts[0].mountPath=/etc/redis-ca',
  ]);
  const deployment = findOne(objects, 'Deployment');
  assert.deepEqual(at(deployment.raw, 'spec.template.spec.volumes'), [
    { name: 'policies', configMap: { name: 'my-policies' } },
    { name: 'redis-ca', secret: { secretName: 'redis-ca' } },
  ]);
  assert.deepEqual(container(deployment)['volumeMounts'], [
    { name: 'policies', mountPath: '/etc/gatehouse/policies', readOnly: true },
    { name: 'redis-ca', mountPath: '/etc/redis-ca' },
  ]);
});

test('values breaking the schema are rejected with the offending field named', TIMEOUT, async () => {
  const cases: [string[], RegExp][] = [
    [['-f', BAD], /\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/],
    [['--set', 'replicaCount=two'], /\/replicaCount': got string, want integer/],
    [['--set', 'imagee.tag=1'], /additional properties 'imagee' not allowed/],
    [['--set', 'image.pullPolicy=Sometimes'], /\/image\/pullPolicy'/],
    [['--set', 'podSecurityContext.runAsUser=0'], /\/podSecurityContext\/runAsUser': minimum: got 0, want 1/],
    [['--set', 'podSecurityContext.runAsUsr=5'], /additional properties 'runAsUsr' not allowed/],
    [['--set', 'tls.secretName=Not_A_Secret'], /- at '\/tls\/secretName': 'Not_A_Secret' does not match pattern '\^\(\|\[a-z0-9\]\(\[-a-z0-9\.\]\*\[a-z0-9\]\)\?\)\$'/],
    [['--set', 'tls.clientCA.key=a/b'], /- at '\/tls\/clientCA\/key': 'a\/b' does not match pattern '\^\[-\._a-zA-Z0-9\]\+\$'/],
    [['--set', 'tls.reloadInterval=soon'], /- at '\/tls\/reloadInterval': 'soon' does not match pattern '\^\[0-9\]\+\(ms\|s\|m\|h\)\$'/],
    [['--set', 'securityContext.privileged=yes'], /- at '\/securityContext\/privileged': got string, want null or boolean/],
    [['--set', 'extraVolumeMounts[0].name=ca'], /\/extraVolumeMounts\/0': missing property 'mountPath'/],
    [['--set', 'kubernetes.watchNamespaces={Not_A_Namespace}'], /\/kubernetes\/watchNamespaces\/0'/],
    [['--set', 'policySource=files'], /\/files\/configMap': minLength: got 0, want 1/],
    [['--set', 'serviceMonitor.interval=often'], /\/serviceMonitor\/interval'/],
    [['--set', 'http.port=70000'], /\/http\/port': maximum: got 70,000, want 65,535/],
    [['--set', 'http.enabled=sometimes'], /\/http\/enabled': got string, want boolean/],
    // serve refuses a duration without its unit too.
    [['--set-string', 'redis.sessionCacheMaxAge=0'], /- at '\/redis\/sessionCacheMaxAge': '0' does not match pattern '\^\(\|\[0-9\]\+\(ms\|s\|m\|h\)\)\$'/],
    [['--set', 'redis.sessionCacheMaxAge=a second'], /- at '\/redis\/sessionCacheMaxAge': 'a second' does not match pattern/],
    [['--set', 'redis.sessionCacheMaxAge=1'], /\/redis\/sessionCacheMaxAge': got number, want string/],
  ];
  for (const [args, message] of cases) {
    for (const command of ['template', 'lint']) {
      const result = await helm(command === 'template' ? ['template', RELEASE, chartDir, ...args] : ['lint', chartDir, ...args]);
      assert.notEqual(result.code, 0, `helm ${command} ${args.join(' ')} should fail`);
      assert.match(result.stderr + result.stdout, message, `helm ${command} ${args.join(' ')}`);
    }
  }
});

test('the chart README documents every value, and nothing that is not a value', TIMEOUT, async () => {
  const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8'));
  const paths = valuePaths(values);
  const readme = await readFile(join(chartDir, 'README.md'), 'utf8');
  // The table under "## Values" (the Permissions table above it has backticked cells too).
  const table = readme.slice(readme.indexOf('## Values'));
  const documented = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
  assert.deepEqual(paths.filter((p) => !documented.includes(p)), [], 'values missing from the README table');
  assert.deepEqual(documented.filter((d) => !paths.includes(d)), [], 'README rows naming no value');
});

test('values.schema.json declares every value, and refuses unknown keys in every object it names', TIMEOUT, async () => {
  const schema = record(JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')), 'schema');
  const definitions = record(schema['definitions'], 'definitions');
  const resolve = (node: Record<string, unknown>): Record<string, unknown> => {
    const ref = node['$ref'];
    return typeof ref === 'string' ? record(definitions[ref.replace('#/definitions/', '')], ref) : node;
  };
  const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8'));
  for (const path of valuePaths(values)) {
    let node = schema;
    for (const key of path.split('.')) {
      const properties = node['properties'];
      // Free-form Kubernetes objects (resources.requests, ...) end the walk.
      if (!isRecord(properties)) break;
      assert.ok(key in properties, `values.schema.json does not declare ${path}`);
      node = resolve(record(properties[key], path));
    }
  }
  const strict = (node: Record<string, unknown>, where: string): void => {
    const properties = node['properties'];
    if (!isRecord(properties)) return;
    assert.equal(node['additionalProperties'], false, `${where} must set additionalProperties: false`);
    for (const [key, child] of Object.entries(properties)) {
      if (key !== 'global' && isRecord(child) && child['type'] === 'object') strict(child, `${where}.${key}`);
    }
  };
  strict(schema, '(root)');
});

test('the AuthPolicy CRD ships in the chart, identical to deploy/crds, and helm installs it', TIMEOUT, async () => {
  const chartCrd = join(chartDir, 'crds', 'authpolicies.gatehouse.dev.yaml');
  const deployCrd = join(repoRoot, 'deploy', 'crds', 'authpolicies.gatehouse.dev.yaml');
  for (const file of [chartCrd, deployCrd]) {
    await stat(file).catch(() => assert.fail(`${file} is missing: it is generated from the AuthPolicy schema`));
  }
  assert.equal(await readFile(chartCrd, 'utf8'), await readFile(deployCrd, 'utf8'));
  const result = await helm(['template', RELEASE, chartDir, '--namespace', NAMESPACE, '--include-crds']);
  assert.equal(result.code, 0, result.stderr);
  const crd = findOne(parseManifests(result.stdout), 'CustomResourceDefinition', 'authpolicies.gatehouse.dev');
  assert.equal(at(crd.raw, 'spec.group'), 'gatehouse.dev');
  assert.equal(at(crd.raw, 'spec.scope'), 'Namespaced');
  assert.equal(at(crd.raw, 'spec.names.kind'), 'AuthPolicy');
  assert.equal(at(crd.raw, 'spec.names.plural'), 'authpolicies');
  assert.deepEqual(at(crd.raw, 'spec.names.shortNames'), ['ghp']);
  const version = list(at(crd.raw, 'spec.versions'), 'versions').find((v) => at(v, 'name') === 'v1alpha1');
  assert.ok(version !== undefined, 'v1alpha1 is served');
  assert.deepEqual(at(version, 'subresources.status'), {});
});

test('the install notes name the gRPC and forward-auth endpoints and where policies come from', TIMEOUT, async () => {
  const notes = async (args: string[]): Promise<string> => {
    const result = await helm(['install', 'gatehouse', chartDir, '--dry-run=client', '--namespace', NAMESPACE, ...args]);
    assert.equal(result.code, 0, result.stderr);
    const start = result.stdout.indexOf('NOTES:');
    assert.ok(start >= 0, 'helm prints the notes');
    return result.stdout.slice(start);
  };
  const defaults = await notes([]);
  assert.ok(defaults.includes(`gatehouse.${NAMESPACE}.svc.cluster.local:9001`), defaults);
  assert.ok(defaults.includes('AuthPolicy objects (gatehouse.dev/v1alpha1) in every namespace.'), defaults);
  assert.ok(defaults.includes(`http://gatehouse-metrics.${NAMESPACE}.svc:9090/metrics`), defaults);
  assert.ok(defaults.includes(`http://gatehouse.${NAMESPACE}.svc.cluster.local:9002/auth/nginx, /auth/traefik or /envoy`), defaults);
  const grpcOnly = await notes(['--set', 'http.enabled=false']);
  assert.ok(!grpcOnly.includes('forward-auth'), grpcOnly);
  const scoped = await notes(['--set', 'kubernetes.watchNamespaces={shop,billing}']);
  assert.ok(scoped.includes('in namespaces shop, billing.'), scoped);
  const files = await notes(['--set', 'policySource=files', '--set', 'files.configMap=pol']);
  assert.ok(files.includes('Policies: files from ConfigMap pol, mounted at /etc/gatehouse/policies.'), files);
});
