import { describe, expect, it } from 'vitest';
import { pipeline } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { affineQuantize, float16Quantize, kmeansQuantize } from './plugins.js';

const quantized = (r: Awaited<ReturnType<ReturnType<typeof pipeline>['run']>>) =>
  (r.stages[0].details as { layers: { param: string }[] }).layers.map((l) => l.param);

describe('selection options of the quantize plugins', () => {
  it("take include / exclude, and 'layers' as include's deprecated name, with a note", async () => {
    const g = lenet300100();
    const viaInclude = await pipeline([kmeansQuantize({ bits: 4, include: ['fc*'], exclude: ['fc3'], iterations: 5 })]).run(g);
    expect(quantized(viaInclude)).toEqual(['fc1/kernel', 'fc2/kernel']);
    expect(viaInclude.stages[0].notes.some((n) => /deprecated/.test(n))).toBe(false);
    const viaLayers = await pipeline([affineQuantize({ layers: ['fc2'] })]).run(g);
    expect(quantized(viaLayers)).toEqual(['fc2/kernel']);
    expect(viaLayers.stages[0].notes[0]).toBe("quantize.affine: 'layers' is deprecated, use 'include'");
    const halves = await pipeline([float16Quantize({ exclude: ['*/bias'] })]).run(g);
    expect(quantized(halves)).toEqual(['fc1/kernel', 'fc2/kernel', 'fc3/kernel']);
  });
});
