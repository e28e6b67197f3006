// Headless Chromium for tests and benchmarks: Debian's /usr/bin/chromium through playwright-core,
// with no GPU, no network services, and a fresh empty profile per launch. The one place that
// knows how condense starts a browser.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** Whether the browser is installed; callers skip (tests) or report (benchmarks) when not. */
export const hasChromium = () => existsSync(CHROMIUM);

export const INSTALL_HINT = `${CHROMIUM} not found (install it with: apt-get install -y chromium)`;

/**
 * Launch Chromium with an empty --user-data-dir (a temporary profile, removed on close).
 * Returns { context, newPage({ viewport }?), close() }.
 */
export async function launchChromium({ args = [] } = {}) {
  if (!hasChromium()) throw new Error(INSTALL_HINT);
  const profile = await mkdtemp(join(tmpdir(), 'condense-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...args] });
    return {
      context,
      async newPage({ viewport } = {}) {
        const page = await context.newPage();
        if (viewport) await page.setViewportSize(viewport);
        return page;
      },
      async close() {
        await context.close().catch(() => {});
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
}
