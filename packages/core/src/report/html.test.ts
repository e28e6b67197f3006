import { describe, expect, it } from 'vitest';
import type { Report } from './data.js';
import { renderReportHtml } from './html.js';
import { sampleReport as makeSample } from './sample-report.js';
import { fmtBytes, fmtDeltaPts, fmtMs, fmtRatio, fmtShort } from './format.js';
import { logTicks, niceTicks } from './svg.js';

/** The <svg> markup of every chart of a kind. */
function charts(html: string, kind: string): string[] {
  return [...html.matchAll(/<svg class="chart" data-chart="([^"]+)"[\s\S]*?<\/svg>/g)].filter((m) => m[1] === kind).map((m) => m[0]);
}

// Built once (k-means over 20k weights); each test mutates its own copy.
const FULL = makeSample();
const NO_ACCURACY = makeSample({ accuracy: false });
const sampleReport = (opts: { accuracy?: boolean } = {}): Report => structuredClone(opts.accuracy === false ? NO_ACCURACY : FULL);

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

/** Nothing a broken formatter would leak into the page. */
function expectNoJunk(html: string) {
  expect(html).not.toMatch(/NaN|Infinity|undefined|\[object Object\]/);
}

describe('renderReportHtml', () => {
  it('draws every chart of a full Deep Compression run', () => {
    const report = sampleReport();
    const html = renderReportHtml(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);

    const acc = charts(html, 'accuracy-size');
    expect(acc).toHaveLength(1);
    expect(count(acc[0], /<circle class="point/g)).toBe(report.stages.length);
    expect(acc[0]).toContain('class="baseline"');

    const sparsity = charts(html, 'layer-sparsity')[0];
    expect(count(sparsity, /<rect class="bar before"/g)).toBe(3);
    expect(count(sparsity, /<rect class="bar after"/g)).toBe(3);
    expect(sparsity).toContain('>92%<'); // dense_1 keeps 8%
    const bits = charts(html, 'layer-bits')[0];
    expect(bits).toContain('>5 b<');
    expect(bits).toContain('>32 b<');

    const hists = charts(html, 'histogram');
    expect(hists).toHaveLength(3);
    hists.forEach((h, i) => expect(count(h, /<line class="centroid"/g)).toBe(report.layers.after[i].centroids!.length));

    const sens = charts(html, 'sensitivity')[0];
    expect(count(sens, /<path class="series"/g)).toBe(3);
    expect(count(sens, /<circle class="series-point"/g)).toBe(33);
    expectNoJunk(html);
  });

  it('shows the stage table with ratios against the input float32 bytes', () => {
    const html = renderReportHtml(sampleReport());
    const table = html.slice(html.indexOf('<table class="stages"'), html.indexOf('</table>'));
    expect(count(table, /<tr/g)).toBe(6); // header + 5 stages
    expect(table).toContain('1.07 MB');
    expect(table).toContain('40.5×'); // 1,066,440 / 26,310
    expect(table).toContain('88.61%');
    expect(table).toContain('41.9 s');
    expect(table).toContain('<th class="num">epochs</th>');
    expect(table).toMatch(/finetune.*<td class="num">8<\/td>/s);
    expect(html).toContain('recipes/deep-compression.yaml');
    expect(html).toContain('2025-03-14 09:26 UTC');
  });

  it("gives ratios against the input file's own bytes and, beside them, against float32; and the written weights, grown ones first", () => {
    const report = sampleReport();
    // An input stored as uint8: a quarter of its float32 bytes.
    report.stages[0].bytes = report.stages[0].float32Bytes / 4;
    report.written = {
      file: 'model.json',
      bytes: 300_000,
      notes: [],
      weights: [
        {
          param: 'a',
          weight: 'dense/kernel',
          dtype: 'uint8',
          bytes: 200_000,
          input: { dtype: 'uint8', bytes: 200_000 },
          maxError: 0,
          reason: "the input's uint8 grid, bytes unchanged",
        },
        {
          param: 'b',
          weight: 'dense_1/kernel',
          dtype: 'float32',
          bytes: 100_000,
          input: { dtype: 'uint8', bytes: 25_000 },
          maxError: 0,
          reason: 'a stage changed the values',
        },
      ],
    };
    const html = renderReportHtml(report);
    const table = html.slice(html.indexOf('<table class="stages"'), html.indexOf('</table>'));
    expect(table).toContain('<th class="num">vs input</th><th class="num">vs float32</th>');
    expect(table).toContain('10.1×'); // 266,610 / 26,310
    expect(table).toContain('40.5×');
    const written = html.slice(html.indexOf('<section id="written"'), html.indexOf('</section>', html.indexOf('<section id="written"')));
    expect(written).toContain('Weights written to model.json');
    expect(written).toContain('1 of 2 weights keep the input’s encoding; 1 written larger than the input stored them');
    expect(written.indexOf('dense_1/kernel')).toBeLessThan(written.indexOf('dense/kernel<'));
    expect(written).toContain('<tr class="grew">');
    expectNoJunk(html);
  });

  it('is self-contained: no script, no external resource, a CSP that forbids fetching', () => {
    const html = renderReportHtml(sampleReport());
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)=/i);
    // The only URL is the SVG namespace, which is never fetched.
    for (const m of html.matchAll(/https?:\/\/[^"\s]+/g)) expect(m[0]).toBe('http://www.w3.org/2000/svg');
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
  });

  it('escapes layer, model and stage names from user models', () => {
    const report = sampleReport();
    const evil = '<script>alert("x")</script>';
    report.layers.before[0].node = evil;
    report.layers.after[0].node = evil;
    report.model = '"><img src=x onerror=alert(1)>';
    report.title = 'a & b <i>';
    report.stages[1].stage = `</td>${evil}`;
    report.stages[1].notes = [evil];
    report.sensitivity![0].layer = evil;
    report.stageDetails[0].options = { name: evil };
    report.recipe = `stages:\n  - ${evil}`;
    const html = renderReportHtml(report);
    expect(html).not.toMatch(/<script|<img|<i>/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('<title>a &amp; b &lt;i&gt;</title>');
    // The histogram is still found by its (escaped) layer name.
    expect(html).toContain(`data-chart="histogram" xmlns="http://www.w3.org/2000/svg"`);
    expect(html).toContain('data-layer="&lt;script&gt;');
  });

  it('handles a run without accuracy: an explained empty chart, dashes in the table', () => {
    const html = renderReportHtml(sampleReport({ accuracy: false }));
    const acc = charts(html, 'accuracy-size')[0];
    expect(acc).toContain('data-empty="true"');
    expect(acc).toContain('No accuracy was measured');
    expect(acc).not.toContain('<circle');
    expect(html).toContain('not measured');
    const table = html.slice(html.indexOf('<table class="stages"'), html.indexOf('</table>'));
    expect(count(table, /<td class="num">—<\/td>/g)).toBe(5);
    expectNoJunk(html);
  });

  it('skips stages whose accuracy is missing or null (NaN after JSON)', () => {
    const report = JSON.parse(
      JSON.stringify({ ...sampleReport(), stages: sampleReport().stages.map((s, i) => (i === 2 ? { ...s, accuracy: NaN } : s)) }),
    ) as Report;
    expect(report.stages[2].accuracy).toBeNull();
    const acc = charts(renderReportHtml(report), 'accuracy-size')[0];
    expect(count(acc, /<circle class="point/g)).toBe(4);
    expectNoJunk(renderReportHtml(report));
  });

  it('renders a single-stage report (the input alone)', () => {
    const one = sampleReport();
    one.stages = one.stages.slice(0, 1);
    one.stageDetails = [];
    one.layers.after = one.layers.before;
    delete one.sensitivity;
    const html = renderReportHtml(one);
    expect(count(charts(html, 'accuracy-size')[0], /<circle class="point/g)).toBe(1);
    expect(charts(html, 'sensitivity')).toHaveLength(0);
    expect(html).not.toContain('id="sensitivity"');
    expect(html).toContain('1.00×');
    expect(html).toContain('No stages ran.');
    // Uncompressed float32 weights: no centroids, full-width before and after bit bars.
    expect(html).not.toContain('class="centroid"');
    expectNoJunk(html);
  });

  it('matches layers by node and param, marking removed and new ones', () => {
    const report = sampleReport();
    const [dense2] = report.layers.after.splice(1, 1);
    report.layers.after.push({ ...dense2, node: 'kron', param: 'a' }, { ...dense2, node: 'kron', param: 'b' });
    const html = renderReportHtml(report);
    const sparsity = charts(html, 'layer-sparsity')[0];
    expect(sparsity).toContain('>removed<');
    expect(count(sparsity, />not in the input model</g)).toBe(2);
    expect(sparsity).toContain('kron/a');
    expect(sparsity).toContain('kron/b');
    expect(charts(html, 'histogram')).toHaveLength(4);
  });

  it('shows the stored bytes per layer, and each layer-wise stage’s output error next to them', () => {
    const report = sampleReport();
    const table = (html: string) => html.slice(html.indexOf('<table class="layers"'), html.indexOf('</table>', html.indexOf('<table class="layers"')));
    expect(table(renderReportHtml(report))).not.toContain('output error');
    report.reconstruction = [
      {
        index: 3,
        stage: 'reconstruct.gptq',
        layers: [
          { layer: 'dense_1', errorBefore: 0.012, errorAfter: 0.002, ms: 1520, bytes: 4_930_000 },
          { layer: 'dense_3', errorBefore: 0.0024, errorAfter: 0.0001 },
        ],
      },
      {
        index: 4,
        stage: 'reconstruct.sparsegpt',
        layers: [
          { layer: 'dense_1', errorBefore: 0.1, errorAfter: 0.05 },
          { layer: 'not-a-layer', errorBefore: 1, errorAfter: 1 },
        ],
      },
    ];
    const html = renderReportHtml(report);
    const t = table(html);
    expect(t).toContain('<th class="num">stored after</th>');
    expect(t).toContain(fmtBytes(report.layers.after[0].bytes));
    const rows = t.split('<tr>').slice(2);
    expect(rows[0]).toContain('3. reconstruct.gptq: 1.200% → 0.200%<span class="sub">1.5 s · 4.93 MB</span>');
    expect(rows[0]).toContain('4. reconstruct.sparsegpt: 10.000% → 5.000%');
    expect(rows[1]).toContain('<td class="recon"></td>');
    expect(rows[2]).toContain('3. reconstruct.gptq: 0.240% → 0.010%</div>');
    expect(html).not.toContain('not-a-layer');
    expectNoJunk(html);
  });
});

describe('axis ticks', () => {
  it('picks round linear ticks', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1].map((v) => expect.closeTo(v, 9)));
    expect(niceTicks(0.82, 0.9, 4)).toEqual([0.82, 0.84, 0.86, 0.88, 0.9].map((v) => expect.closeTo(v, 9)));
    expect(niceTicks(0, 3000, 3)).toEqual([0, 1000, 2000, 3000]);
  });

  it('puts log ticks on powers of ten, with 2 and 5 over a few decades', () => {
    expect(logTicks(15_000, 1_500_000)).toEqual([20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000]);
    expect(logTicks(1, 1e6)).toEqual([1, 10, 100, 1000, 10_000, 100_000, 1e6]);
  });
});

describe('number formatting', () => {
  it('prints sizes, times and deltas the way the tables show them', () => {
    expect([fmtBytes(512), fmtBytes(50_000), fmtBytes(26_310), fmtBytes(1_066_440), fmtBytes(null)]).toEqual(['512 B', '50 kB', '26.3 kB', '1.07 MB', '—']);
    expect([fmtMs(184), fmtMs(41_870), fmtMs(192_000)]).toEqual(['184 ms', '41.9 s', '3 min 12 s']);
    expect([fmtDeltaPts(-0.0051), fmtDeltaPts(0.012), fmtRatio(40.53), fmtRatio(0)]).toEqual(['−0.51 pt', '+1.20 pt', '40.5×', '—']);
    expect([fmtShort(266_200), fmtShort(40), fmtShort(21_560)]).toEqual(['266k', '40', '21.6k']);
  });
});
