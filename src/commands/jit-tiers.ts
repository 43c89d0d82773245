// Imported first by cli.ts, so that it runs before any other module of the process is evaluated:
// `gatehouse serve` leaves out V8's Maglev tier (service/startup-heap.ts says why).
import { servingJitTiers } from '../service/startup-heap.js';

if (process.argv[2] === 'serve') servingJitTiers();
