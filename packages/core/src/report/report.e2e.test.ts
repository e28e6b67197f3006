// Opens a generated report.html in headless Chromium: every chart must draw, with no console
// errors and no network requests. Saves test-artifacts/report.png at the repo root.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, hasChromium as chromiumInstalled, INSTALL_HINT, launchChromium, type LaunchedChromium } from '../../../../tools/browser/chromium.mjs';
import { sampleReport } from './sample-report.js';
import { writeReport } from './write.js';

const hasChromium = chromiumInstalled();
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../../..');
const screenshot = join(repoRoot, 'test-artifacts', 'report.png');
if (!hasChromium) console.warn(`report.e2e: skipped, ${INSTALL_HINT}`);

/** Non-zero rendered size: the element was laid out and painted somewhere. */
async function drawn(el: Locator): Promise<boolean> {
  const box = await el.boundingBox();
  return box !== null && box.width > 0 && box.height > 0;
}

/** How many of the matching marks inside `chart` were actually laid out with a size. */
async function drawnCount(chart: Locator, selector: string): Promise<number> {
  const marks = chart.locator(selector);
  let n = 0;
  for (let i = 0; i < (await marks.count()); i++) if (await drawn(marks.nth(i))) n++;
  return n;
}

describe.skipIf(!hasChromium)(`report.html in headless Chromium (needs ${CHROMIUM})`, () => {
  let browser: LaunchedChromium;
  let dir: string;

  beforeAll(async () => {
    browser = await launchChromium();
    dir = await mkdtemp(join(tmpdir(), 'condense-report-e2e-'));
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('renders every chart with drawn marks, no console errors and no network requests', async () => {
    const report = sampleReport();
    const { html } = await writeReport(dir, report);
    const url = pathToFileURL(html).href;

    const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });

    const kinds = ['accuracy-size', 'layer-sparsity', 'layer-bits', 'histogram', 'sensitivity'];
    const charts = page.locator('svg.chart');
    expect(await charts.count()).toBe(kinds.length - 1 + report.layers.after.length);
    for (let i = 0; i < (await charts.count()); i++) expect(await drawn(charts.nth(i))).toBe(true);
    expect(await page.locator('svg.chart[data-empty]').count()).toBe(0);

    const chart = (kind: string) => page.locator(`svg.chart[data-chart="${kind}"]`);
    expect(await drawnCount(chart('accuracy-size'), 'circle.point')).toBe(report.stages.length);
    expect(await drawnCount(chart('accuracy-size'), 'path.trail')).toBe(1);
    // Before bars of an unpruned model have zero width, so only the after bars must all show.
    expect(await drawnCount(chart('layer-sparsity'), 'rect.bar.after')).toBe(report.layers.after.length);
    expect(await drawnCount(chart('layer-bits'), 'rect.bar.before')).toBe(report.layers.before.length);
    expect(await drawnCount(chart('layer-bits'), 'rect.bar.after')).toBe(report.layers.after.length);
    expect(await drawnCount(chart('sensitivity'), 'path.series')).toBe(report.sensitivity!.length);
    for (const layer of report.layers.after) {
      const hist = page.locator(`svg.chart[data-chart="histogram"][data-layer="${layer.node}"]`);
      expect(await drawnCount(hist, 'rect.bin')).toBeGreaterThan(3);
      // Centroid lines are 1 px wide: count them as laid out when they have height.
      expect(await hist.locator('line.centroid').count()).toBe(layer.centroids!.length);
      expect((await hist.locator('line.centroid').first().boundingBox())!.height).toBeGreaterThan(50);
    }

    await mkdir(join(repoRoot, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(existsSync(screenshot)).toBe(true);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
