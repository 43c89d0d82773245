// Envoy configuration files held to Envoy's canonical protos (shipped in @grpc/grpc-js-xds/deps):
// every key of a YAML bootstrap must be a field of the message it sits in, walked recursively through
// typed_config (`@type`), maps and lists, so a misspelt or invented field fails a test instead of
// Envoy's startup. Deprecated fields and unknown enum values are reported too.
//
//   const problems = protoProblems(parse(yaml), 'envoy.config.bootstrap.v3.Bootstrap');
//   assert.deepEqual(problems, []);
import * as protoLoader from '@grpc/proto-loader';
import { CANONICAL_PROTO_OPTIONS } from './envoy-client.js';
import { isRecord } from './manifests.js';

/** The files whose messages the shipped Envoy configurations use (their imports come along). */
const FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
];

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  readonly options: { readonly deprecated?: boolean } | null;
}

interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
  readonly nestedType: readonly MessageDescriptor[];
  readonly enumType: readonly EnumDescriptor[];
  readonly options: { readonly mapEntry?: boolean } | null;
}

interface EnumDescriptor {
  readonly name: string;
  readonly value: readonly { readonly name: string }[];
}

type Found = { kind: 'message'; type: MessageDescriptor } | { kind: 'enum'; type: EnumDescriptor };

let loaded: protoLoader.PackageDefinition | undefined;

function definitions(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync(FILES, CANONICAL_PROTO_OPTIONS);
  return loaded;
}

/**
 * The loaded type behind a fully qualified `name` (no leading dot); undefined when none is. The
 * package definition lists top-level types only: nested ones are found inside their parents.
 */
function lookup(name: string): Found | undefined {
  const parts = name.split('.');
  for (let n = parts.length; n > 0; n--) {
    const def = definitions()[parts.slice(0, n).join('.')];
    if (def === undefined || !('format' in def) || typeof def.format !== 'string') continue;
    const type: unknown = def.type;
    let found: Found = def.format.endsWith('EnumDescriptorProto')
      ? { kind: 'enum', type: type as EnumDescriptor }
      : { kind: 'message', type: type as MessageDescriptor };
    for (const step of parts.slice(n)) {
      if (found.kind !== 'message') return undefined;
      const message: MessageDescriptor | undefined = found.type.nestedType.find((t) => t.name === step);
      const inner: EnumDescriptor | undefined = found.type.enumType.find((t) => t.name === step);
      if (message !== undefined) found = { kind: 'message', type: message };
      else if (inner !== undefined) found = { kind: 'enum', type: inner };
      else return undefined;
    }
    return found;
  }
  return undefined;
}

/** Protobuf scoping: a relative type name is looked up from the innermost enclosing scope outwards. */
function resolve(typeName: string, scope: string): string | undefined {
  if (typeName.startsWith('.')) return typeName.slice(1);
  const parts = scope.split('.');
  for (let n = parts.length; n >= 0; n--) {
    const candidate = [...parts.slice(0, n), typeName].join('.');
    if (lookup(candidate) !== undefined) return candidate;
  }
  return undefined;
}

/** Well-known types whose YAML form is a scalar (Duration "0.2s", wrappers) or free-form (Struct). */
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const SCALAR_WRAPPERS = /^google\.protobuf\.(Bool|U?Int(32|64)|Double|Float|String|Bytes)Value$/;

/** Every problem found walking `value` as a `typeName` message, each naming its YAML path. */
export function protoProblems(value: unknown, typeName: string, path = '(root)'): string[] {
  if (typeName === 'google.protobuf.Duration') {
    return typeof value === 'string' && DURATION.test(value) ? [] : [`${path}: ${JSON.stringify(value)} is not a duration such as 0.2s`];
  }
  if (SCALAR_WRAPPERS.test(typeName)) return isRecord(value) || Array.isArray(value) ? [`${path}: ${typeName} takes a scalar`] : [];
  if (typeName === 'google.protobuf.Struct' || typeName === 'google.protobuf.Value') return [];
  if (typeName === 'google.protobuf.Any') return anyProblems(value, path);
  const found = lookup(typeName);
  if (found === undefined || found.kind !== 'message') return [`${path}: type ${typeName} is not loaded`];
  if (!isRecord(value)) return [`${path}: ${typeName} takes a mapping, got ${JSON.stringify(value)}`];
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const field = found.type.field.find((f) => f.name === key);
    const where = `${path}.${key}`;
    if (field === undefined) {
      problems.push(`${where}: ${typeName} has no field ${key}`);
      continue;
    }
    if (field.options?.deprecated === true) problems.push(`${where}: deprecated in ${typeName}`);
    problems.push(...fieldProblems(field, child, typeName, where));
  }
  return problems;
}

function fieldProblems(field: FieldDescriptor, value: unknown, scope: string, path: string): string[] {
  const target = field.typeName === '' ? undefined : resolve(field.typeName, scope);
  if (field.typeName !== '' && target === undefined) return [`${path}: type ${field.typeName} is not loaded`];
  const entry = target === undefined ? undefined : lookup(target);
  // map<K, V>: a repeated entry message on the wire, a mapping in YAML.
  if (entry?.kind === 'message' && entry.type.options?.mapEntry === true) {
    if (!isRecord(value)) return [`${path}: a map takes a mapping`];
    const valueField = entry.type.field.find((f) => f.name === 'value');
    if (valueField === undefined) return [`${path}: map entry without value`];
    return Object.entries(value).flatMap(([k, v]) => fieldProblems(valueField, v, target as string, `${path}.${k}`));
  }
  if (field.label === 'LABEL_REPEATED') {
    if (!Array.isArray(value)) return [`${path}: a repeated field takes a list`];
    return value.flatMap((item, i) => single(field, item, target, `${path}.${i}`));
  }
  return single(field, value, target, path);
}

function single(field: FieldDescriptor, value: unknown, target: string | undefined, path: string): string[] {
  if (field.type === 'TYPE_MESSAGE') return protoProblems(value, target as string, path);
  if (field.type === 'TYPE_ENUM') {
    const e = lookup(target as string);
    const names = e?.kind === 'enum' ? e.type.value.map((v) => v.name) : [];
    return typeof value === 'string' && names.includes(value) ? [] : [`${path}: ${JSON.stringify(value)} is not a value of ${String(target)}`];
  }
  return isRecord(value) || Array.isArray(value) ? [`${path}: ${field.name} takes a scalar`] : [];
}

/** `typed_config`: the `@type` URL names the message the other keys belong to. */
function anyProblems(value: unknown, path: string): string[] {
  if (!isRecord(value)) return [`${path}: an Any takes a mapping with @type`];
  const url = value['@type'];
  if (typeof url !== 'string' || !url.startsWith('type.googleapis.com/')) return [`${path}: @type must be type.googleapis.com/<message>`];
  const rest = Object.fromEntries(Object.entries(value).filter(([k]) => k !== '@type'));
  return protoProblems(rest, url.slice('type.googleapis.com/'.length), path);
}
