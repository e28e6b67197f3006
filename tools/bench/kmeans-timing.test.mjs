import { describe, expect, it } from 'vitest';
import { timeKmeans } from './kmeans-timing.mjs';

describe('timeKmeans', () => {
  it('clusters 10M weights into 256 centroids in seconds', () => {
    // One run keeps the suite fast; `timeKmeans()` with its defaults is the median of 3.
    const t = timeKmeans(10_000_000, 256, { repeats: 1 });
    console.log(`kmeans1d n=10M k=256 linear: ${t.ms.toFixed(0)} ms wall, ${t.cpuMs.toFixed(0)} ms CPU, ${t.iterations} iterations`);
    expect(t.runs).toHaveLength(1);
    // CPU time, not wall time: other work on a loaded CI machine stretches the latter arbitrarily.
    expect(t.cpuMs).toBeLessThan(6000);
  });
});
