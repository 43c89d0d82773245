// The fake Kubernetes API server of the tests and what a test needs to talk to it. Callers import
// from here only; the other files are its parts.
export { FakeApiServer, type FakeApiServerOptions, type FakeApiServerTls } from './server.js';
export { at, isJsonObject, type JsonObject, type JsonValue } from './json.js';
export { download, names, POLICIES_PATH, raw } from './client.js';
