/**
 * Issue 27, "done when": 1,200 seeded mutations of a loadable container (bit flips, truncations,
 * header and topology edits and stream damage with re-sealed CRCs), each in its own model folder,
 * through the decoder, `condense inspect` and the loader, in a child process running the built
 * packages. Per case: under 10 s (a hang is killed and named), RSS under 1 GiB, only named
 * refusals (no raw JS error, no stack trace), no tensor leaked, no file opened outside the case's
 * folder, and the input file unchanged.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { rng } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipBits, mutateHeader, mutateStream } from '../../packages/codec/src/test-helpers.js';
import { loadableBytes } from './containers.js';
import { scratch } from './helpers.js';

const CASE_MS = 10_000;
const MAX_RSS = 2 ** 30;
const root = join(import.meta.dirname, '..', '..');
const built = ['codec', 'cli', 'files'].every((p) => existsSync(join(root, 'packages', p, 'dist', 'index.js')));

interface Report {
  file: string;
  ms: number;
  rss: number;
  decoder: string;
  inspect: string;
  loader: string;
  leaked: number;
  opened: string[];
}

/** The cases: [kind, bytes], deterministic. */
async function mutations(): Promise<[string, Uint8Array][]> {
  const base = await loadableBytes();
  const next = rng(2727);
  const out: [string, Uint8Array][] = [['intact', base]];
  for (let i = 0; i < 250; i++) out.push(['bit flips', flipBits(base, next)]);
  for (let i = 0; i < 100; i++) out.push(['truncation', base.subarray(0, Math.floor(next() * base.length))]);
  for (let i = 0; i < 350; i++) out.push(['header edit', mutateHeader(base, next)]);
  for (let i = 0; i < 300; i++) out.push(['topology edit', mutateHeader(base, next, (h) => h.modelTopology)]);
  for (let i = 0; i < 200; i++) out.push(['stream damage', mutateStream(base, next)]);
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!built)('fuzzing the decoder, inspect and the loader (1,201 containers, built packages)', () => {
  let tmp: Awaited<ReturnType<typeof scratch>>;
  const files: { file: string; kind: string; hash: string }[] = [];
  beforeAll(async () => {
    tmp = await scratch('condense-fuzz-');
    for (const [i, [kind, bytes]] of (await mutations()).entries()) {
      const file = join(tmp.dir, `case-${String(i).padStart(4, '0')}`, 'model.cdz');
      await mkdir(dirname(file));
      await writeFile(file, bytes);
      files.push({ file, kind, hash: sha(bytes) });
    }
  });
  afterAll(() => tmp.done());

  it('every case is refused by name or loads, within 10 s and 1 GiB, reading only its own folder and modifying nothing', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fuzz-child.mjs')], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const reports: Report[] = [];
    let maxRss = 0;
    let watchdog: NodeJS.Timeout | undefined;
    let hung: string | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        hung = files[reports.length]?.file ?? 'start-up';
        child.kill('SIGKILL');
      }, CASE_MS + 5_000);
    };
    arm();
    child.stdin.end(files.map((f) => f.file).join('\n') + '\n');
    for await (const line of createInterface({ input: child.stdout })) {
      const r = JSON.parse(line);
      if (r.done) maxRss = r.maxRssBytes;
      else reports.push(r);
      arm();
    }
    clearTimeout(watchdog);
    expect(hung, `hung on ${hung}`).toBeUndefined();
    expect(reports).toHaveLength(files.length);

    const tally: Record<string, Record<string, number>> = { decoder: {}, inspect: {}, loader: {} };
    for (const [i, r] of reports.entries()) {
      const at = `${files[i].kind} ${r.file}`;
      for (const path of ['decoder', 'inspect', 'loader'] as const) {
        expect(r[path], `${at}: ${path}`).not.toMatch(/^RAW/);
        tally[path][r[path]] = (tally[path][r[path]] ?? 0) + 1;
      }
      expect(r.ms, `${at}: time`).toBeLessThan(CASE_MS);
      expect(r.rss, `${at}: RSS`).toBeLessThan(MAX_RSS);
      expect(r.leaked, `${at}: tensors leaked`).toBe(0);
      for (const opened of r.opened) expect(opened.startsWith(dirname(r.file)), `${at}: opened ${opened}`).toBe(true);
      expect(sha(new Uint8Array(await readFile(r.file))), `${at}: input modified`).toBe(files[i].hash);
    }
    expect(maxRss).toBeLessThan(MAX_RSS);
    // The intact container goes through everything; mutations reach every layer of checks.
    expect([reports[0].decoder, reports[0].inspect, reports[0].loader]).toEqual(['ok', 'ok', 'ok']);
    for (const code of ['CRC_MISMATCH', 'TRUNCATED', 'BAD_HEADER', 'BAD_PARAM', 'TOPOLOGY_MISMATCH', 'BAD_DATA'])
      expect(tally.decoder[code], code).toBeGreaterThan(0);
    expect(tally.loader.NOT_LOADABLE).toBeGreaterThan(0);
    expect(tally.loader.ok).toBeGreaterThan(1);
    console.log(
      'fuzz outcomes',
      JSON.stringify(tally),
      `slowest ${Math.max(...reports.map((r) => r.ms)).toFixed(0)} ms, peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`,
    );
  }, 600_000);
});
