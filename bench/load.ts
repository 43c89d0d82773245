// Closed-loop load for unary Check: `concurrency` calls in flight at all times, spread over
// `connections` HTTP/2 connections, each answered call immediately replaced by the next. Requests are
// pre-encoded bytes and responses stay bytes, so the client does little more than framing; latency
// is taken with hrtime around each call.
import type { Channel, ChannelOptions } from './channel.js';
import { connectGrpc } from './channel-grpc.js';
import { connectHttp2 } from './channel-http2.js';
import { Histogram } from './histogram.js';
import type { LoadConfig, LoadResult } from './protocol.js';

const CONNECT_TIMEOUT_MS = 10_000;
/** Time allowed for calls still in flight when the window closes. */
const DRAIN_TIMEOUT_MS = 10_000;

type Phase = 'warmup' | 'window' | 'draining';

export interface LoadEvents {
  onWindowStart?(): void;
  onWindowEnd?(): void;
}

function connect(config: LoadConfig): Promise<Channel> {
  const o: ChannelOptions = { address: config.address, method: config.method, deadlineMs: config.deadlineMs, connectTimeoutMs: CONNECT_TIMEOUT_MS };
  switch (config.client) {
    case 'grpc-js':
      return connectGrpc(o);
    case 'http2':
      return connectHttp2(o);
    default: {
      const never: never = config.client;
      throw new Error(`unknown client ${String(never)}`);
    }
  }
}

export async function runLoad(config: LoadConfig, events: LoadEvents = {}): Promise<LoadResult> {
  if (config.concurrency < 1 || config.connections < 1) throw new RangeError('concurrency and connections must be at least 1');
  const requests = config.requests.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  const settled = await Promise.allSettled(Array.from({ length: Math.min(config.connections, config.concurrency) }, () => connect(config)));
  const channels = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return await drive(config, channels, requests, events);
  } finally {
    for (const c of channels) c.close();
  }
}

function drive(config: LoadConfig, channels: readonly Channel[], requests: readonly Buffer[], events: LoadEvents): Promise<LoadResult> {
  const histogram = new Histogram();
  const samples: Uint8Array[] = [];
  let phase: Phase = 'warmup';
  let next = 0;
  let inFlight = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let windowStart = 0n;
  let windowEnd = 0n;
  let cpuStart = process.cpuUsage();
  let cpuMicros = 0;
  let nextSample = 1;

  return new Promise<LoadResult>((resolve, reject) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (drainTimer !== undefined) clearTimeout(drainTimer);
      resolve({ completed, errors, firstError, windowMs: Number(windowEnd - windowStart) / 1e6, histogram: histogram.counts, cpuMicros, samples });
    };

    const fire = (channel: Channel): void => {
      const request = requests[next++ % requests.length];
      if (request === undefined) throw new Error('no request to send');
      inFlight++;
      const started = process.hrtime.bigint();
      channel.call(request, (error, response) => {
        const micros = Number(process.hrtime.bigint() - started) / 1000;
        inFlight--;
        if (error !== undefined) {
          errors++;
          firstError ??= error;
        } else if (phase === 'window') {
          histogram.record(micros);
          completed++;
          // Powers of two spread the samples over the whole window at no cost per call.
          if (completed === nextSample && samples.length < config.samples && response !== undefined) {
            samples.push(Uint8Array.from(response));
            nextSample *= 2;
          }
        }
        if (phase !== 'draining') fire(channel);
        else if (inFlight === 0) finish();
      });
    };

    try {
      for (let lane = 0; lane < config.concurrency; lane++) {
        const channel = channels[lane % channels.length];
        if (channel !== undefined) fire(channel);
      }
    } catch (e) {
      reject(e);
      return;
    }

    setTimeout(() => {
      phase = 'window';
      windowStart = process.hrtime.bigint();
      cpuStart = process.cpuUsage();
      events.onWindowStart?.();
      setTimeout(() => {
        phase = 'draining';
        windowEnd = process.hrtime.bigint();
        const cpu = process.cpuUsage(cpuStart);
        cpuMicros = cpu.user + cpu.system;
        events.onWindowEnd?.();
        if (inFlight === 0) finish();
        else drainTimer = setTimeout(() => reject(new Error(`${inFlight} calls still in flight ${DRAIN_TIMEOUT_MS} ms after the window closed`)), DRAIN_TIMEOUT_MS);
      }, config.durationMs);
    }, config.warmupMs);
  });
}
