// A real browser for end-to-end tests: Debian's Chromium, installed when missing, driven by
// playwright-core (which downloads no browser of its own). Headless, no sandbox (tests run as root),
// background networking off (this machine reaches no outside host), a fresh profile per launch.
import { chromium, type Browser } from 'playwright-core';
import { ensureDebianPackage } from './debian.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  await ensureDebianPackage('chromium', 'chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
