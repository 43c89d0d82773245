// Loads proto/ once (for `gatehouse check`, a client; the server's services are in grpc-services.ts)
// and describes the plain objects @grpc/proto-loader hands over and accepts.
// The shapes follow the loader options below: snake_case names, int64 as number, bytes as Buffer,
// enums as numbers, and unset fields absent (no defaults), so presence can be told apart.
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { AUTHORIZATION_SERVICE } from './grpc-services.js';

/** proto/ at the package root: dist/src/transport/ -> ../../../proto (also in an installed package). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

export { AUTHORIZATION_SERVICE } from './grpc-services.js';
const HEALTH_SERVICE = 'grpc.health.v1.Health';

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

// envoy.service.auth.v3.CheckRequest is read by the direct decoder in grpc-decode.ts.

// --- envoy.service.auth.v3.CheckResponse, as encoded -----------------------------------------

export interface HeaderValueOptionMsg {
  readonly header: { readonly key: string; readonly value: string };
  /** google.protobuf.BoolValue: always present so every Envoy version reads the intent. */
  readonly append: { readonly value: boolean };
}

export interface OkHttpResponseMsg {
  readonly headers?: readonly HeaderValueOptionMsg[];
  readonly headers_to_remove?: readonly string[];
  readonly response_headers_to_add?: readonly HeaderValueOptionMsg[];
  readonly query_parameters_to_remove?: readonly string[];
}

export interface DeniedHttpResponseMsg {
  readonly status: { readonly code: number };
  readonly headers?: readonly HeaderValueOptionMsg[];
  readonly body?: string;
}

export interface CheckResponseMsg {
  readonly status: { readonly code: number; readonly message?: string };
  readonly ok_response?: OkHttpResponseMsg;
  readonly denied_response?: DeniedHttpResponseMsg;
}

// --- grpc.health.v1 ----------------------------------------------------------------------------

export interface HealthCheckRequestMsg {
  readonly service?: string;
}

export interface HealthCheckResponseMsg {
  readonly status: number;
}

export interface HealthListResponseMsg {
  readonly statuses: Readonly<Record<string, HealthCheckResponseMsg>>;
}

export interface LoadedServices {
  readonly authorization: ServiceDefinition;
  readonly health: ServiceDefinition;
}

let loaded: Promise<LoadedServices> | undefined;

/** Parses the protos on first use only; every server in the process shares the definitions. */
export function loadServices(): Promise<LoadedServices> {
  loaded ??= protoLoader
    .load(['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'], LOADER_OPTIONS)
    .then((pkg) => ({
      authorization: serviceIn(pkg, AUTHORIZATION_SERVICE),
      health: serviceIn(pkg, HEALTH_SERVICE),
    }));
  loaded.catch(() => {
    loaded = undefined; // let a later start try again instead of caching the failure
  });
  return loaded;
}

function serviceIn(pkg: protoLoader.PackageDefinition, name: string): ServiceDefinition {
  const def = pkg[name];
  if (def === undefined || 'format' in def) throw new Error(`${name} is not a service in ${PROTO_DIR}`);
  return def;
}
