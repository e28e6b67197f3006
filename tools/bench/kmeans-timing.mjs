// Speed of @condense/quantize's kmeans1d on weight-like data: the k-means figure of quantize-mlp.
import { gaussian, rng } from '@condense/ir';
import { kmeans1d } from '@condense/quantize';

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/**
 * Time `kmeans1d` on n seeded Gaussian values (weight-like), median of `repeats` runs. Returns
 * { n, k, init, ms (median wall time, clustering only), runs, cpuMs (median process CPU time,
 * user + system: close to the unloaded wall time when other work shares the machine), iterations, converged }.
 */
export function timeKmeans(n = 10_000_000, k = 256, { init = 'linear', repeats = 3, seed = 1, iterations } = {}) {
  const normal = gaussian(rng(seed));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = 0.05 * normal();
  const runs = [];
  const cpu = [];
  let last;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    last = kmeans1d(data, { k, init, seed, iterations });
    const used = process.cpuUsage(c);
    runs.push(performance.now() - t);
    cpu.push((used.user + used.system) / 1000);
  }
  return { n, k, init, ms: median(runs), runs, cpuMs: median(cpu), iterations: last.iterations, converged: last.converged };
}
