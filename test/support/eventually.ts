// The one bounded wait of the tests: poll a condition until it holds or the time is up. Tests wait
// for the event they expect with it instead of sleeping and hoping it happened by then.

/** Polls `probe` every 25 ms until it returns true; fails naming `what` after `ms`. */
export async function eventually(probe: () => Promise<boolean> | boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
