// One request explained: decided by the pipeline exactly as for real traffic, in a dry run (nothing
// written, nothing counted), traced phase by phase; then every shadow policy that selects the request,
// evaluated the same way. Credentials in the request and the answers are redacted once, for all.
import type { Decision, Deny } from './decision.js';
import { asGatehouseError } from './errors.js';
import { CheckInput, type CheckInputInit } from './input.js';
import type { Pipeline } from './pipeline.js';
import { Redactor } from './redact.js';
import { denyFor } from './respond.js';
import type { PolicyLookup } from './route.js';
import type { Explanation, ShadowExplanation } from './trace.js';
import { TraceRecorder, tracedAnswer } from './trace-recorder.js';

/** `init` as a transport would build it; a request the transport would refuse (a path that cannot be read) is explained as that refusal. */
export async function explain(pipeline: Pipeline, index: PolicyLookup | undefined, init: CheckInputInit, now: number): Promise<Explanation> {
  return (await explainDecision(pipeline, index, init, now)).explanation;
}

/** The explanation and the decision itself, unredacted (a test compares the headers it expects with it). */
export async function explainDecision(
  pipeline: Pipeline,
  index: PolicyLookup | undefined,
  init: CheckInputInit,
  now: number,
): Promise<{ readonly explanation: Explanation; readonly decision: Decision }> {
  let input: CheckInput;
  try {
    input = new CheckInput(init);
  } catch (e) {
    const decision = denyFor(asGatehouseError(e), undefined, undefined);
    return { explanation: refused(init, decision), decision };
  }
  const main = new TraceRecorder();
  const answer = await settled(() => pipeline.decide(index, input, now, { dryRun: true, trace: main }));
  const beside: { recorder: TraceRecorder; decision: Decision }[] = [];
  // The shadow policies are routed with the main trace, so its candidates list them too.
  for (const policy of index?.shadows(input, main) ?? []) {
    // A shadow policy that decided alone is the main explanation already.
    if (index === undefined || policy.id === answer.policy) continue;
    const recorder = new TraceRecorder();
    beside.push({ recorder, decision: await settled(() => pipeline.evaluate(policy, index, input, now, { dryRun: true, trace: recorder })) });
  }
  const redactor = new Redactor([main, ...beside.map((b) => b.recorder)].flatMap((r) => [...r.locations]));
  const shadows: ShadowExplanation[] = beside.map((b) => b.recorder.result(b.decision, redactor));
  const explanation: Explanation = {
    request: {
      method: input.method,
      host: input.host,
      rawPath: input.rawPath,
      path: input.path,
      query: redactor.query(input.rawQuery),
      headers: redactor.headers([...input.headers].map(([name, value]) => ({ name, value }))),
    },
    dryRun: true,
    ...main.result(answer, redactor),
    shadows,
  };
  return { explanation, decision: answer };
}

/** Refused before any policy, as every transport refuses it (400 for a path that cannot be read). */
function refused(init: CheckInputInit, deny: Deny): Explanation {
  const redactor = new Redactor();
  const q = init.path.indexOf('?');
  const rawPath = q === -1 ? init.path : init.path.slice(0, q);
  return {
    request: {
      method: init.method.toUpperCase(),
      host: init.host,
      rawPath,
      path: rawPath,
      query: redactor.query(q === -1 ? '' : init.path.slice(q + 1)),
      headers: redactor.headers([...init.headers].map(([name, value]) => ({ name, value }))),
    },
    dryRun: true,
    route: { outcome: 'request_refused', candidates: [] },
    skip: [],
    authorization: [],
    hooks: [],
    answer: tracedAnswer(deny, redactor),
    shadows: [],
  };
}

/** The decision; anything thrown becomes the deny the engine would answer. */
async function settled(run: () => Decision | Promise<Decision>): Promise<Decision> {
  try {
    return await run();
  } catch (e) {
    return denyFor(asGatehouseError(e), undefined, undefined);
  }
}
