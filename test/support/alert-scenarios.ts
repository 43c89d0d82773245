// promtool unit tests for deploy/monitoring/alerts.yaml: synthetic series in, exact alerts out.
// Each scenario also shows a look-alike situation that must stay silent.

const NS = 'gatehouse-system';
const POD = 'gatehouse-7d9f-abcde';

function series(metric: string, labels: Record<string, string>): string {
  const pairs = Object.entries({ namespace: NS, pod: POD, ...labels }).map(([k, v]) => `${k}="${v}"`);
  return `${metric}{${pairs.join(',')}}`;
}

interface ExpectedAlert {
  readonly exp_labels: Record<string, string>;
  readonly exp_annotations: Record<string, string>;
}

function expectations(evalTime: string, alertname: string, alerts: readonly ExpectedAlert[]): Record<string, unknown> {
  return { eval_time: evalTime, alertname, exp_alerts: alerts };
}

const staleDescription =
  `Pod ${NS}/${POD} keeps serving the policies and credentials it last saw; changes (new or revoked keys) are not applied until the watch recovers. Check API server reachability and the pod's RBAC.`;

const downDescription =
  'Its admin port has not answered a scrape for 2 minutes: the process hangs or the pod lost its network. Envoy keeps sending it Checks until its health checks or outlier detection take it out; restart the pod if its liveness probe has not.';
const absentDescription =
  'Either no Gatehouse pod is running, or Prometheus cannot scrape any (ServiceMonitor, network policy). With no pod up, Envoy denies every request its ext_authz filter covers (or allows all of them with failure_mode_allow).';

/** The promtool `test rules` document for rules stored in `ruleFile` (relative to the test file). */
export function alertScenarios(ruleFile: string): Record<string, unknown> {
  return {
    rule_files: [ruleFile],
    evaluation_interval: '1m',
    tests: [
      {
        // The pod stops answering scrapes at minute 2 (its own metrics stop with it). A Redis pod in the
        // same namespace that is down is none of Gatehouse's business.
        interval: '1m',
        input_series: [
          { series: series('up', { job: 'gatehouse-metrics' }), values: '1 1 0x10' },
          { series: series('gatehouse_source_synced', { source: 'kubernetes' }), values: '1 1 _x10' },
          { series: `up{job="redis",namespace="${NS}",pod="redis-0"}`, values: '0x12' },
        ],
        alert_rule_test: [
          expectations('3m', 'GatehouseDown', []),
          expectations('5m', 'GatehouseDown', [
            {
              exp_labels: { severity: 'warning', job: 'gatehouse-metrics', namespace: NS, pod: POD },
              exp_annotations: {
                summary: `Gatehouse pod ${NS}/${POD} does not answer`,
                description: downDescription,
              },
            },
          ]),
          expectations('5m', 'GatehouseAbsent', []),
        ],
      },
      {
        // Every pod is gone after minute 3: its series go stale five minutes later, the alert waits five more.
        interval: '1m',
        input_series: [{ series: series('gatehouse_source_synced', { source: 'kubernetes' }), values: '1x3' }],
        alert_rule_test: [
          expectations('3m', 'GatehouseAbsent', []),
          expectations('11m', 'GatehouseAbsent', []),
          expectations('15m', 'GatehouseAbsent', [
            {
              exp_labels: { severity: 'critical' },
              exp_annotations: {
                summary: 'No Gatehouse pod has reported metrics for 5 minutes',
                description: absentDescription,
              },
            },
          ]),
        ],
      },
      {
        // The Secrets watch goes down at minute 1; the AuthPolicy watch stays up.
        interval: '1m',
        input_series: [
          { series: series('gatehouse_kubernetes_watch_down_seconds', { resource: 'secrets' }), values: '0 0+60x20' },
          { series: series('gatehouse_kubernetes_watch_down_seconds', { resource: 'authpolicies' }), values: '0x20' },
        ],
        alert_rule_test: [
          expectations('2m', 'GatehouseKubernetesWatchStale', []),
          expectations('5m', 'GatehouseKubernetesWatchStale', [
            {
              exp_labels: { severity: 'warning', namespace: NS, pod: POD, resource: 'secrets' },
              exp_annotations: {
                summary: 'Gatehouse watch on secrets has been down for 4m 0s',
                description: staleDescription,
              },
            },
          ]),
          expectations('5m', 'GatehouseKubernetesWatchStaleCritical', []),
        ],
      },
      {
        // 100 allowed and 5 denied checks a minute, Redis down (3) or the identity provider busy (2):
        // about 4.8% internal denies. A namespace with many denies for bad keys (the caller's fault) must not alert.
        interval: '1m',
        input_series: [
          { series: series('gatehouse_check_total', { policy: 'shop/shop', method: 'keys', decision: 'allow', code: 'authenticated' }), values: '0+100x30' },
          { series: series('gatehouse_check_total', { policy: 'shop/shop', method: '', decision: 'deny', code: 'session_store_unavailable' }), values: '0+3x30' },
          { series: series('gatehouse_check_total', { policy: 'shop/shop', method: 'sso', decision: 'deny', code: 'oidc_introspection_busy' }), values: '0+2x30' },
          {
            series: `gatehouse_check_total{namespace="quiet",pod="q",policy="q/q",method="keys",decision="deny",code="key_unknown"}`,
            values: '0+500x30',
          },
        ],
        alert_rule_test: [
          expectations('3m', 'GatehouseInternalDenyRatioHigh', []),
          expectations('15m', 'GatehouseInternalDenyRatioHigh', [
            {
              exp_labels: { severity: 'critical', namespace: NS },
              exp_annotations: {
                summary: `4.762% of checks in ${NS} are denied for internal reasons`,
                description:
                  "Requests are refused because of an internal fault or an unavailable dependency (Redis, identity provider, JWKS), not because of their credentials. Check the gatehouse log for the codes and the dependency's health.",
              },
            },
          ]),
        ],
      },
      {
        // Internal denies are absent for an hour, then jump to 10/s.
        interval: '1m',
        input_series: [
          { series: series('gatehouse_check_total', { policy: 'shop/shop', method: 'sso', decision: 'deny', code: 'internal_error' }), values: '0x60 0+600x20' },
        ],
        alert_rule_test: [
          expectations('60m', 'GatehouseInternalDenyRateRising', []),
          expectations('75m', 'GatehouseInternalDenyRateRising', [
            {
              exp_labels: { severity: 'warning', namespace: NS },
              exp_annotations: {
                summary: `Internal denies in ${NS} are rising (10/s)`,
                description: 'The rate of checks denied for internal reasons is more than three times its hourly average.',
              },
            },
          ]),
        ],
      },
      {
        // The file source never syncs; the kubernetes source does after a minute.
        interval: '1m',
        input_series: [
          { series: series('gatehouse_source_synced', { source: 'files' }), values: '0x10' },
          { series: series('gatehouse_source_synced', { source: 'kubernetes' }), values: '0 1x10' },
        ],
        alert_rule_test: [
          expectations('4m', 'GatehouseSourceNotSynced', []),
          expectations('6m', 'GatehouseSourceNotSynced', [
            {
              exp_labels: { severity: 'warning', namespace: NS, pod: POD, source: 'files' },
              exp_annotations: {
                summary: 'Gatehouse source files has not synced',
                description: `Pod ${NS}/${POD} stays not ready until its policy source files syncs.`,
              },
            },
          ]),
        ],
      },
    ],
  };
}
