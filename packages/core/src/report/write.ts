// report.json + report.html on disk, each written atomically (@condense/files: temp file beside it, then rename).
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@condense/files';
import type { Report } from './data.js';
import { renderReportHtml } from './html.js';

export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

/** Writes DIR/report.json and DIR/report.html (creating DIR); returns both paths. */
export async function writeReport(dir: string, report: Report): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, REPORT_JSON);
  const html = join(dir, REPORT_HTML);
  await writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(html, renderReportHtml(report));
  return { json, html };
}

/** A report.json path from either the file itself or the directory holding it. */
async function jsonPath(path: string): Promise<string> {
  const s = await stat(path).catch(() => {
    throw new Error(`${path}: no such file or directory (expected a report directory or its ${REPORT_JSON})`);
  });
  return s.isDirectory() ? join(path, REPORT_JSON) : path;
}

/** Reads and checks a report.json; errors name the file and the missing field. */
export async function readReport(path: string): Promise<Report> {
  const file = await jsonPath(path);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${file}: cannot read the report (${err.code ?? err.message})`);
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return checkReport(data, file);
}

function checkReport(data: unknown, file: string): Report {
  const fail = (what: string) => new Error(`${file}: not a condense report (${what})`);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail('expected a JSON object');
  const r = data as Partial<Report>;
  if (!Array.isArray(r.stages)) throw fail('"stages" must be an array');
  const layers = r.layers as Report['layers'] | undefined;
  if (!layers || !Array.isArray(layers.before) || !Array.isArray(layers.after)) throw fail('"layers.before" and "layers.after" must be arrays');
  return {
    ...r,
    title: typeof r.title === 'string' ? r.title : 'condense report',
    createdAt: typeof r.createdAt === 'string' ? r.createdAt : '',
    model: typeof r.model === 'string' ? r.model : '(unnamed model)',
    stages: r.stages,
    stageDetails: Array.isArray(r.stageDetails) ? r.stageDetails : [],
    layers,
  };
}

/** Re-renders report.html next to an existing report.json (`condense report DIR`); returns the html path. */
export async function renderReportFromJson(path: string): Promise<string> {
  const file = await jsonPath(path);
  const report = await readReport(file);
  const html = join(dirname(file), REPORT_HTML);
  await writeFileAtomic(html, renderReportHtml(report));
  return html;
}
