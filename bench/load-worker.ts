// Worker-thread entry: runs the load generator on its own event loop, so the orchestrator's thread
// never competes with it, and posts the window boundaries and the result back.
import { parentPort, workerData } from 'node:worker_threads';
import { runLoad } from './load.js';
import { type LoadMessage, parseLoadConfig } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('load-worker.js runs as a worker thread');
const post = (m: LoadMessage): void => port.postMessage(m);

const result = await runLoad(parseLoadConfig(workerData), {
  onWindowStart: () => post({ type: 'window-start' }),
  onWindowEnd: () => post({ type: 'window-end' }),
});
post({ type: 'result', result });
