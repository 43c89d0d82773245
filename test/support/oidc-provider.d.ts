// The part of panva/oidc-provider's API the test OP uses (the package ships no type declarations).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration?: Readonly<Record<string, unknown>>);
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  }
}
