// Everything that ships besides the chart: the container image recipe, the plain Kubernetes manifests,
// the dashboard and alerts, the production install and the LTS Node binary. The proxy configurations
// (Envoy, Istio, ingress-nginx, Traefik) are checked in packaging-proxies.test.ts.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { alertScenarios } from './support/alert-scenarios.js';
import { buildContextFiles, dockerignoreExcludes, parseDockerfile, type DockerInstruction } from './support/dockerfile.js';
import { helm, kubectl } from './support/k8s-tools.js';
import {
  at, chartDir, container, findAll, findOne, inventory, list, loadRepoYaml, type Manifest, NAMESPACE, parseManifests,
  probePort, rbacGrants, record, str, WATCH_GRANTS,
} from './support/manifests.js';
import { NODE_LTS_MAJOR, nodeLts } from './support/node-lts.js';
import { compareWithLockfile, installProduction, RUNTIME_FILES } from './support/production-install.js';
import { exportedSeries, fromGrafana, GATEHOUSE_METRICS, metricNames, templateQueryMetrics } from './support/promql.js';
import { promtool } from './support/promtool.js';
import { repoRoot, runChecked, runCommand } from './support/tool-cache.js';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';

const KUSTOMIZE_DIR = join(repoRoot, 'deploy', 'kubernetes');
const TIMEOUT = { timeout: 180_000 };
const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

async function dockerfile(): Promise<DockerInstruction[]> {
  return parseDockerfile(await readFile(join(repoRoot, 'Dockerfile'), 'utf8'));
}

test('the Dockerfile builds in one stage and runs from a second, on the Node LTS image', TIMEOUT, async () => {
  const steps = await dockerfile();
  const arg = steps.find((s) => s.instruction === 'ARG' && s.args.startsWith('NODE_IMAGE='));
  assert.ok(arg !== undefined, 'ARG NODE_IMAGE=<node image>');
  assert.match(arg.args, new RegExp(`^NODE_IMAGE=node:${NODE_LTS_MAJOR}(\\.\\d+){0,2}-(bookworm|trixie)-slim$`));
  assert.deepEqual(
    steps.filter((s) => s.instruction === 'FROM').map((s) => s.args),
    ['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime'],
  );
  const build = steps.filter((s) => s.stage === 'build');
  assert.deepEqual(build.filter((s) => s.instruction === 'RUN').map((s) => s.args), [
    'npm ci --no-audit --no-fund',
    'npm run build',
  ]);
});

test('the runtime stage installs production dependencies only and copies exactly the runtime files', TIMEOUT, async () => {
  const runtime = (await dockerfile()).filter((s) => s.stage === 'runtime');
  const runs = runtime.filter((s) => s.instruction === 'RUN').map((s) => s.args);
  assert.deepEqual(runs, ['npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force']);
  const copies = runtime.filter((s) => s.instruction === 'COPY').map((s) => s.args);
  assert.deepEqual(copies, [
    'package.json package-lock.json ./',
    '--from=build /src/dist/src ./dist/src',
    'proto ./proto',
  ]);
  // installProduction() reproduces this stage; both must copy the same files.
  const copied = copies
    .flatMap((c) => c.split(/\s+/).slice(0, -1))
    .filter((a) => !a.startsWith('--'))
    .map((a) => a.replace('/src/', ''));
  assert.deepEqual(copied.sort(), [...RUNTIME_FILES].sort());
});

test('the image runs as a numeric non-root user, with the CLI as entrypoint and a node health check', TIMEOUT, async () => {
  const runtime = (await dockerfile()).filter((s) => s.stage === 'runtime');
  const users = runtime.filter((s) => s.instruction === 'USER');
  assert.equal(users.length, 1);
  const user = users[0] as DockerInstruction;
  assert.match(user.args, /^[1-9]\d*(:[1-9]\d*)?$/, 'USER is numeric and not root');
  assert.ok(runtime.indexOf(user) > Math.max(...runtime.filter((s) => s.instruction === 'RUN').map((s) => runtime.indexOf(s))));
  const one = (instruction: string): string => {
    const found = runtime.filter((s) => s.instruction === instruction);
    assert.equal(found.length, 1, `one ${instruction}`);
    return (found[0] as DockerInstruction).args;
  };
  // node's serving flags, the ones `npm start` gives too (test/docs-readme.test.ts) and the bench's server gets.
  assert.deepEqual(JSON.parse(one('ENTRYPOINT')), ['node', ...SERVING_NODE_FLAGS, 'dist/src/cli.js']);
  assert.deepEqual(JSON.parse(one('CMD')), ['serve']);
  assert.deepEqual(one('EXPOSE').split(/\s+/), ['9001', '9002', '9090']);
  assert.equal(one('ENV'), 'NODE_ENV=production');
  assert.doesNotMatch(one('HEALTHCHECK'), /curl|wget/);
});

test('the image health check exits 0 on a healthy /healthz and 1 otherwise', TIMEOUT, async () => {
  const runtime = (await dockerfile()).filter((s) => s.stage === 'runtime');
  const healthcheck = runtime.find((s) => s.instruction === 'HEALTHCHECK');
  assert.ok(healthcheck !== undefined);
  const command: unknown = JSON.parse(healthcheck.args.slice(healthcheck.args.indexOf('CMD ') + 4));
  const [node, flag, script] = list(command, 'HEALTHCHECK CMD') as string[];
  assert.equal(node, 'node');
  assert.equal(flag, '-e');
  assert.ok(script?.includes("'http://127.0.0.1:9090/healthz'"), script);

  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const local = (script as string).replace('127.0.0.1:9090', `127.0.0.1:${address.port}`);
  const run = async (): Promise<number> => (await runCommand(process.execPath, ['-e', local], { timeoutMs: 10_000 })).code;
  try {
    assert.equal(await run(), 0);
    status = 503;
    assert.equal(await run(), 1);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.equal(await run(), 1, 'nothing listening');
  assert.deepEqual(paths, ['/healthz', '/healthz']);
});

test('.dockerignore sends the sources and lockfile, never node_modules, dist, .tools or .git', TIMEOUT, async () => {
  const rules = await readFile(join(repoRoot, '.dockerignore'), 'utf8');
  const sent = ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli.ts', 'src/core/engine.ts', 'proto/envoy/x.proto'];
  for (const path of sent) {
    assert.equal(dockerignoreExcludes(rules, path), false, `${path} is sent`);
  }
  const kept = ['node_modules/yaml/index.js', 'dist/src/cli.js', '.tools/x', '.git/HEAD', 'test/a.test.ts', 'charts/x', 'x.log'];
  for (const path of kept) {
    assert.equal(dockerignoreExcludes(rules, path), true, `${path} is excluded`);
  }
});

test('the build stage compiles the service from the files the build context holds', TIMEOUT, async () => {
  const files = await buildContextFiles(repoRoot, await readFile(join(repoRoot, '.dockerignore'), 'utf8'));
  const tops = [...new Set(files.map((f) => f.split('/')[0]))].sort();
  assert.deepEqual(tops.filter((t) => !['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'proto'].includes(t ?? '')), []);
  assert.ok(files.includes('src/cli.ts'));
  const dir = await tempDir('gatehouse-build-');
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(repoRoot, file), join(dir, file));
  }
  // The build stage's RUN steps, as written in the Dockerfile.
  await runChecked('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, timeoutMs: 600_000 });
  await runChecked('npm', ['run', 'build'], { cwd: dir, timeoutMs: 300_000 });
  await stat(join(dir, 'dist', 'src', 'cli.js'));
});

async function kustomize(dir: string): Promise<ReturnType<typeof parseManifests>> {
  const crds = join(repoRoot, 'deploy', 'crds');
  for (const file of ['kustomization.yaml', 'authpolicies.gatehouse.dev.yaml']) {
    await stat(join(crds, file)).catch(() =>
      assert.fail(`deploy/crds/${file} is missing: deploy/kubernetes/kustomization.yaml includes ../crds`),
    );
  }
  const result = await kubectl(['kustomize', dir]);
  assert.equal(result.code, 0, `kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

test('kubectl kustomize deploy/kubernetes renders the CRD and every object of the service', TIMEOUT, async () => {
  const objects = await kustomize(KUSTOMIZE_DIR);
  assert.deepEqual(inventory(objects), [
    'ClusterRole/gatehouse',
    'ClusterRoleBinding/gatehouse',
    'CustomResourceDefinition/authpolicies.gatehouse.dev',
    `Deployment/${NAMESPACE}/gatehouse`,
    `Namespace/${NAMESPACE}`,
    `PodDisruptionBudget/${NAMESPACE}/gatehouse`,
    `Service/${NAMESPACE}/gatehouse`,
    `Service/${NAMESPACE}/gatehouse-metrics`,
    `ServiceAccount/${NAMESPACE}/gatehouse`,
  ]);
  assert.deepEqual(rbacGrants(findOne(objects, 'ClusterRole')), WATCH_GRANTS);
  const subject = [{ kind: 'ServiceAccount', name: 'gatehouse', namespace: NAMESPACE }];
  assert.deepEqual(findOne(objects, 'ClusterRoleBinding').raw['subjects'], subject);

  const deployment = findOne(objects, 'Deployment');
  const c = container(deployment);
  assert.equal(at(deployment.raw, 'spec.template.spec.securityContext.runAsUser'), 65532);
  assert.equal(at(c, 'securityContext.readOnlyRootFilesystem'), true);
  assert.equal(at(c, 'securityContext.runAsNonRoot'), true);
  assert.equal(at(c, 'livenessProbe.httpGet.path'), '/healthz');
  assert.equal(at(c, 'readinessProbe.httpGet.path'), '/readyz');
  assert.equal(probePort(c, 'readinessProbe'), 9090);
  assert.equal(at(deployment.raw, 'spec.template.spec.serviceAccountName'), 'gatehouse');
  assert.equal(at(deployment.raw, 'spec.template.spec.enableServiceLinks'), false);
  // HTTP forward-auth on 9002, the port the ingress-nginx, Traefik and Envoy http_service examples ask.
  assert.ok(list(c['args'], 'args').includes('--http-address=0.0.0.0:9002'), JSON.stringify(c['args']));
  assert.deepEqual(c['ports'], [
    { name: 'grpc', containerPort: 9001, protocol: 'TCP' },
    { name: 'http-auth', containerPort: 9002, protocol: 'TCP' },
    { name: 'admin', containerPort: 9090, protocol: 'TCP' },
  ]);
  assert.deepEqual(at(findOne(objects, 'Service', 'gatehouse').raw, 'spec.ports'), [
    { name: 'grpc', port: 9001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
    { name: 'http-auth', port: 9002, targetPort: 'http-auth', protocol: 'TCP', appProtocol: 'http' },
  ]);
  assert.deepEqual(
    list(c['env'], 'env').find((e) => at(e, 'name') === 'GATEHOUSE_REDIS_URL'),
    { name: 'GATEHOUSE_REDIS_URL', valueFrom: { secretKeyRef: { name: 'gatehouse-redis', key: 'url', optional: true } } },
  );
  const podLabels = record(at(deployment.raw, 'spec.template.metadata.labels'), 'pod labels');
  for (const service of objects.filter((o) => o.kind === 'Service')) {
    for (const [key, value] of Object.entries(record(at(service.raw, 'spec.selector'), 'selector'))) {
      assert.equal(podLabels[key], value, `Service ${service.name} selects the pods by ${key}`);
    }
  }
  const namespaceLabels = record(at(findOne(objects, 'Namespace').raw, 'metadata.labels'), 'labels');
  assert.equal(namespaceLabels['pod-security.kubernetes.io/enforce'], 'restricted');
});

test('the plain manifests match the chart rendered with default values', TIMEOUT, async () => {
  const plain = await kustomize(KUSTOMIZE_DIR);
  const result = await helm(['template', 'gatehouse', chartDir, '--namespace', NAMESPACE]);
  assert.equal(result.code, 0, result.stderr);
  const chart = parseManifests(result.stdout);
  const [pd, cd] = [findOne(plain, 'Deployment'), findOne(chart, 'Deployment')];
  const podPaths = ['securityContext', 'terminationGracePeriodSeconds', 'topologySpreadConstraints', 'automountServiceAccountToken', 'enableServiceLinks'];
  for (const path of ['spec.replicas', 'spec.strategy', 'spec.selector', ...podPaths.map((p) => `spec.template.spec.${p}`)]) {
    assert.deepEqual(at(pd.raw, path), at(cd.raw, path), path);
  }
  const [pc, cc] = [container(pd), container(cd)];
  const keys = ['image', 'args', 'ports', 'startupProbe', 'livenessProbe', 'readinessProbe', 'resources', 'securityContext'];
  for (const key of keys) {
    assert.deepEqual(pc[key], cc[key], `container ${key}`);
  }
  for (const name of ['gatehouse', 'gatehouse-metrics']) {
    const spec = (objects: Manifest[]): unknown => at(findOne(objects, 'Service', name).raw, 'spec');
    assert.deepEqual(spec(plain), spec(chart), `Service ${name}`);
  }
  assert.deepEqual(at(findOne(plain, 'PodDisruptionBudget').raw, 'spec'), at(findOne(chart, 'PodDisruptionBudget').raw, 'spec'));
  assert.deepEqual(rbacGrants(findOne(plain, 'ClusterRole')), rbacGrants(findOne(chart, 'ClusterRole')));
  assert.deepEqual(findOne(plain, 'ClusterRoleBinding').raw['subjects'], findOne(chart, 'ClusterRoleBinding').raw['subjects']);
  assert.deepEqual([...findAll(plain, 'Role'), ...findAll(plain, 'RoleBinding'), ...findAll(chart, 'Role'), ...findAll(chart, 'RoleBinding')], []);
});

test('deploy/kubernetes-tls serves the Check ports over mutual TLS exactly as the chart does with tls values', TIMEOUT, async () => {
  const tls = await kustomize(join(repoRoot, 'deploy', 'kubernetes-tls'));
  const plain = await kustomize(KUSTOMIZE_DIR);
  const result = await helm(['template', 'gatehouse', chartDir, '--namespace', NAMESPACE, '--set', 'tls.secretName=gatehouse-tls', '--set', 'tls.clientCA.secretName=gatehouse-tls']);
  assert.equal(result.code, 0, result.stderr);
  const chart = parseManifests(result.stdout);
  assert.deepEqual(inventory(tls), inventory(plain));
  const [td, cd] = [findOne(tls, 'Deployment'), findOne(chart, 'Deployment')];
  const [tc, cc] = [container(td), container(cd)];
  for (const key of ['args', 'volumeMounts']) assert.deepEqual(tc[key], cc[key], `container ${key}`);
  assert.deepEqual(at(td.raw, 'spec.template.spec.volumes'), at(cd.raw, 'spec.template.spec.volumes'));
  assert.deepEqual(list(tc['args'], 'args').slice(-4), [
    '--tls-cert-file=/etc/gatehouse/tls/tls.crt',
    '--tls-key-file=/etc/gatehouse/tls/tls.key',
    '--tls-reload-interval=10s',
    '--tls-client-ca-file=/etc/gatehouse/tls-client-ca/ca.crt',
  ]);
  const ports = (objects: Manifest[]): unknown => at(findOne(objects, 'Service', 'gatehouse').raw, 'spec.ports');
  assert.deepEqual(ports(tls), ports(chart));
  assert.deepEqual(ports(tls), [
    { name: 'grpc', port: 9001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'https' },
    { name: 'http-auth', port: 9002, targetPort: 'http-auth', protocol: 'TCP', appProtocol: 'https' },
  ]);
  // Nothing else differs from the plain install: the probes stay on the plain admin port.
  const { args: _a, volumeMounts: _m, ...rest } = tc;
  const { args: _b, ...plainRest } = container(findOne(plain, 'Deployment'));
  assert.deepEqual(rest, plainRest);
});

test('a kustomize overlay can move the install to another namespace, bindings included', TIMEOUT, async () => {
  const overlay = await tempDir('gatehouse-overlay-');
  await writeFile(
    join(overlay, 'kustomization.yaml'),
    `namespace: auth\nresources:\n  - ${relative(overlay, KUSTOMIZE_DIR)}\n`,
  );
  const objects = await kustomize(overlay);
  assert.equal(findOne(objects, 'Namespace').name, 'auth');
  for (const o of objects.filter((x) => x.namespace !== undefined)) assert.equal(o.namespace, 'auth', `${o.kind}/${o.name}`);
  assert.deepEqual(findOne(objects, 'ClusterRoleBinding').raw['subjects'], [{ kind: 'ServiceAccount', name: 'gatehouse', namespace: 'auth' }]);
});

test('the production install holds the runtime dependencies and no development ones', TIMEOUT, async () => {
  const dir = await installProduction(await tempDir('gatehouse-prod-'));
  for (const path of RUNTIME_FILES) await stat(join(dir, path));
  const { devOnly, present, missing } = await compareWithLockfile(dir);
  assert.ok(devOnly.length > 0, 'the lockfile marks development packages');
  assert.deepEqual(present, [], 'development packages in the production install');
  assert.deepEqual(missing, [], 'runtime packages missing from the production install');
  await assert.rejects(stat(join(dir, 'node_modules', 'typescript')));
});

test(`the LTS Node binary (${NODE_LTS_MAJOR}.x) installs from npm and runs`, TIMEOUT, async () => {
  const node = await nodeLts();
  const version = await runCommand(node, ['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout.trim(), new RegExp(`^v${NODE_LTS_MAJOR}\\.\\d+\\.\\d+$`));
  const run = await runCommand(node, ['-p', 'process.versions.node.split(".")[0]']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), String(NODE_LTS_MAJOR));
});

test('the Grafana dashboard parses, queries only exported metrics, all of them, in valid PromQL', TIMEOUT, async () => {
  const json = await readFile(join(repoRoot, 'deploy/monitoring/grafana-dashboard.json'), 'utf8');
  const dashboard = record(JSON.parse(json), 'dashboard');
  assert.equal(dashboard['uid'], 'gatehouse-overview');
  const exported = await exportedSeries();
  assert.deepEqual(GATEHOUSE_METRICS.filter((m) => !exported.has(m)), [], 'the service exports every metric of its contract');
  const panels = list(dashboard['panels'], 'panels');
  // Panels added side by side (shadow decisions, session rejections) must not share an id or a place.
  const ids = panels.map((p) => at(p, 'id'));
  assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'panel ids repeat');
  const boxes = panels.map((p) => ({ title: String(at(p, 'title')), x: Number(at(p, 'gridPos.x')), y: Number(at(p, 'gridPos.y')), w: Number(at(p, 'gridPos.w')), h: Number(at(p, 'gridPos.h')) }));
  const overlaps = boxes.flatMap((a, i) =>
    boxes.slice(i + 1).filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h).map((b) => `${a.title} / ${b.title}`),
  );
  assert.deepEqual(overlaps, [], 'panels drawn over each other');
  const exprs: string[] = [];
  for (const panel of panels) {
    if (at(panel, 'type') === 'row') continue;
    const targets = list(at(panel, 'targets'), `targets of ${String(at(panel, 'title'))}`);
    assert.ok(targets.length > 0, `${String(at(panel, 'title'))} queries something`);
    assert.deepEqual(at(panel, 'datasource'), { type: 'prometheus', uid: '${datasource}' });
    for (const t of targets) exprs.push(str(at(t, 'expr'), 'expr'));
  }
  const variables = list(at(dashboard, 'templating.list'), 'templating').filter((v) => at(v, 'type') === 'query');
  const used = new Set<string>();
  for (const expr of exprs) for (const name of metricNames(fromGrafana(expr))) used.add(name);
  for (const v of variables) for (const name of templateQueryMetrics(str(at(v, 'query.query'), 'variable query'))) used.add(name);
  assert.deepEqual([...used].filter((n) => !exported.has(n)), [], 'metrics the service does not export');
  const base = (n: string): string => n.replace(/_(bucket|sum|count)$/, '');
  const unshown = GATEHOUSE_METRICS.filter((m) => ![...used].some((n) => base(n) === m));
  assert.deepEqual(unshown, [], 'metrics the dashboard never shows');

  const file = join(await tempDir('gatehouse-dashboard-'), 'dashboard-rules.yaml');
  const rules = exprs.map((e, i) => ({ record: `dashboard:panel_${i}`, expr: fromGrafana(e) }));
  await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
  const check = await runCommand(await promtool(), ['check', 'rules', file]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
});

test('the alert rules are valid, query only exported metrics and cover gatehouse absent or down, a stale watch and internal denies', TIMEOUT, async () => {
  const [rule] = await loadRepoYaml('deploy/monitoring/alerts.yaml');
  assert.equal(at(rule, 'apiVersion'), 'monitoring.coreos.com/v1');
  assert.equal(at(rule, 'kind'), 'PrometheusRule');
  const exported = await exportedSeries();
  const rules = list(at(rule, 'spec.groups'), 'groups').flatMap((g) => list(at(g, 'rules'), 'rules'));
  for (const r of rules) {
    const name = str(at(r, 'alert'), 'alert');
    const expr = str(at(r, 'expr'), `${name} expr`);
    // `up` is Prometheus's own series for each scrape target.
    assert.deepEqual(metricNames(expr).filter((n) => !exported.has(n) && n !== 'up'), [], `${name} queries unknown metrics`);
    assert.ok(['info', 'warning', 'critical'].includes(str(at(r, 'labels.severity'), `${name} severity`)));
    assert.notEqual(str(at(r, 'annotations.summary'), `${name} summary`), '');
    assert.notEqual(str(at(r, 'annotations.description'), `${name} description`), '');
  }
  const exprOf = (alert: string): string => str(at(rules.find((r) => at(r, 'alert') === alert), 'expr'), alert);
  assert.match(exprOf('GatehouseKubernetesWatchStale'), /gatehouse_kubernetes_watch_down_seconds/);
  assert.match(exprOf('GatehouseInternalDenyRatioHigh'), /decision="deny", code=~"internal_error\|deadline_exceeded\|oidc_introspection_busy\|\.\*_unavailable"/);
  assert.match(exprOf('GatehouseAbsent'), /^absent\(gatehouse_/);

  const dir = await tempDir('gatehouse-alerts-');
  await writeFile(join(dir, 'rules.yaml'), stringify(at(rule, 'spec')));
  const tool = await promtool();
  const check = await runCommand(tool, ['check', 'rules', join(dir, 'rules.yaml')]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  await writeFile(join(dir, 'tests.yaml'), stringify(alertScenarios('rules.yaml')));
  const unit = await runCommand(tool, ['test', 'rules', join(dir, 'tests.yaml')], { cwd: dir });
  assert.equal(unit.code, 0, unit.stdout + unit.stderr);
  assert.match(unit.stdout, /SUCCESS/);
});
