// What `gatehouse validate` warns about beyond what serve compiles: manifests that work from files but
// would not in a cluster, or should not be deployed as they are.
import { toSelector } from '../authn/api-key.js';
import type { PolicyResource, SecretResource } from '../config/resources.js';
import type { SecretIndex } from '../config/secrets.js';
import type { Dependencies } from '../config/method-context.js';
import { validateSpec } from '../policy/validate.js';

/** The label key the Kubernetes source selects Secrets by (the default --secret-selector). */
export const CREDENTIAL_LABEL = 'gatehouse.dev/credential';

// Values left as in an example or a template: a real secret never reads like these.
const PLACEHOLDER = /replace[-_ ]?(me|with|this)|change[-_ ]?(me|it|this)|placeholder|^<[^>]*>$|^(todo|fixme|secret|password|x{4,}|\.{3})$/i;

export interface LintWarning {
  /** The resource (`file#doc`) the warning is about. */
  readonly origin: string;
  /** The field, or candidates for it in order (the first one present in the file is shown). */
  readonly paths: readonly string[];
  readonly message: string;
}

export interface Compiled {
  readonly policy: PolicyResource;
  readonly deps: Dependencies;
}

export function lint(compiled: readonly Compiled[], secrets: readonly SecretResource[], index: SecretIndex): LintWarning[] {
  const warnings: LintWarning[] = [];
  for (const { policy } of compiled) warnings.push(...emptySelectors(policy, index));
  for (const secret of secrets) {
    const readers = compiled.filter((c) => c.deps.concerns(secret.namespace, c.policy.namespace, secret.name, secret.labels));
    const first = readers[0];
    if (first === undefined) continue;
    const reader = `AuthPolicy ${first.policy.namespace}/${first.policy.name}${readers.length > 1 ? ` and ${readers.length - 1} more` : ''}`;
    if (!Object.hasOwn(secret.labels, CREDENTIAL_LABEL)) {
      warnings.push({
        origin: secret.origin,
        paths: ['metadata.labels'],
        message: `no ${CREDENTIAL_LABEL} label: in a cluster gatehouse reads only Secrets with that label (--secret-selector), so ${reader} would not find this one`,
      });
    }
    for (const [key, value] of secret.data) {
      if (!PLACEHOLDER.test(value.toString('utf8').trim())) continue;
      warnings.push({
        origin: secret.origin,
        paths: [`stringData.${key}`, `data.${key}`],
        message: `looks like a placeholder, not a secret: replace it before deploying (read by ${reader})`,
      });
    }
  }
  return warnings;
}

/** An apiKey selector that selects no Secret: the method could never accept a key. */
function emptySelectors(policy: PolicyResource, index: SecretIndex): LintWarning[] {
  const validated = validateSpec(policy.spec);
  if (!validated.ok) return [];
  const warnings: LintWarning[] = [];
  validated.spec.authentication.methods.forEach((method, i) => {
    if (method.apiKey === undefined) return;
    const selector = toSelector(method.apiKey.selector);
    // An empty selector is already an error of its own.
    if (Object.keys(selector.matchLabels).length === 0 && selector.requirements.length === 0) return;
    if (index.select(policy.namespace, selector).length > 0) return;
    warnings.push({
      origin: policy.origin,
      paths: [`spec.authentication.methods[${i}].apiKey.selector`],
      message: `selects no Secret in namespace ${policy.namespace} among these files: method ${method.name} accepts no key`,
    });
  });
  return warnings;
}
