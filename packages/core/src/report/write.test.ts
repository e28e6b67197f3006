import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from './data.js';
import { sampleReport } from './sample-report.js';
import { readReport, renderReportFromJson, writeReport } from './write.js';

/** A tiny valid report; the writer does not care how realistic it is. */
function smallReport(model = 'tiny'): Report {
  const layer = {
    node: 'dense',
    op: 'dense',
    param: 'kernel',
    shape: [2, 2],
    params: 4,
    nonzero: 2,
    sparsity: 0.5,
    bits: 32,
    encoding: 'float32' as const,
    histogram: { edges: [-1, 0, 1], counts: [1, 1] },
  };
  const stage = {
    index: 0,
    stage: 'input',
    params: 4,
    nonzero: 4,
    bytes: 16,
    float32Bytes: 16,
    macs: 4,
    effectiveMacs: 4,
    epochs: 0,
    wallMs: 0,
    accuracy: 0.5,
  };
  return {
    title: `report of ${model}`,
    createdAt: '2025-01-01T00:00:00.000Z',
    model,
    stages: [stage],
    stageDetails: [],
    layers: { before: [layer], after: [layer] },
  };
}

describe('writeReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'condense-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes report.json and report.html into a new directory, leaving no temp files', async () => {
    const out = join(dir, 'a', 'b');
    const report = sampleReport();
    const paths = await writeReport(out, report);
    expect(paths).toEqual({ json: join(out, 'report.json'), html: join(out, 'report.html') });
    expect((await readdir(out)).sort()).toEqual(['report.html', 'report.json']);
    const json = JSON.parse(await readFile(paths.json, 'utf8'));
    expect(json).toEqual(JSON.parse(JSON.stringify(report)));
    expect(await readFile(paths.html, 'utf8')).toContain('data-chart="accuracy-size"');
  });

  it('replaces an existing report', async () => {
    await writeReport(dir, smallReport('first'));
    await writeReport(dir, smallReport('second'));
    expect((await readReport(dir)).model).toBe('second');
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('report of second');
    expect(await readdir(dir)).toHaveLength(2);
  });
});

describe('renderReportFromJson / readReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'condense-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-renders report.html from the directory or from report.json itself', async () => {
    await writeFile(join(dir, 'report.json'), JSON.stringify(smallReport('from-json')));
    expect(await renderReportFromJson(dir)).toBe(join(dir, 'report.html'));
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('from-json');

    await rm(join(dir, 'report.html'));
    expect(await renderReportFromJson(join(dir, 'report.json'))).toBe(join(dir, 'report.html'));
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('<svg class="chart" data-chart="layer-sparsity"');
  });

  it('fills optional parts an older or hand-written report.json lacks', async () => {
    const { stageDetails: _, title: __, ...partial } = smallReport();
    await writeFile(join(dir, 'report.json'), JSON.stringify(partial));
    const report = await readReport(dir);
    expect(report.stageDetails).toEqual([]);
    expect(report.title).toBe('condense report');
    await renderReportFromJson(dir);
  });

  it('names the file and the problem for bad input', async () => {
    const file = join(dir, 'report.json');
    await expect(readReport(dir)).rejects.toThrow(`${file}: cannot read the report (ENOENT)`);
    await expect(readReport(join(dir, 'nope'))).rejects.toThrow(`${join(dir, 'nope')}: no such file or directory`);
    await writeFile(file, '{ not json');
    await expect(readReport(file)).rejects.toThrow(`${file}: not valid JSON`);
    await writeFile(file, JSON.stringify({ model: 'x', layers: { before: [], after: [] } }));
    await expect(renderReportFromJson(dir)).rejects.toThrow(`${file}: not a condense report ("stages" must be an array)`);
    await writeFile(file, JSON.stringify({ stages: [], layers: {} }));
    await expect(readReport(file)).rejects.toThrow('"layers.before" and "layers.after" must be arrays');
    expect(await readdir(dir)).toEqual(['report.json']); // nothing rendered from a bad file
  });
});
