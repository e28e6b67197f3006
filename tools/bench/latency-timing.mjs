// The timing loop of the latency harness, run as is in Node and (through its source text) in
// the browser page: self-contained, no imports, no closures over module state.

/**
 * Median inference latency of several TF.js LayersModels, timed side by side: every round runs
 * each model once, in an order that alternates every round (A B, B A, ...), so a change of load
 * on a shared machine hits them alike. One call = predict + reading the output back (await data()).
 * `models`: [{ name, model }]. Returns { [name]: { [batch]: { median_ms, min_ms, times_ms } } }.
 */
export async function timeModels(tf, models, { batches, repeats, warmup }) {
  const median = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const out = {};
  for (const m of models) out[m.name] = {};
  for (const batch of batches) {
    const inputs = models.map((m) => tf.randomUniform([batch, ...m.model.inputs[0].shape.slice(1)], 0, 1, 'float32', 7));
    const once = async (k) => {
      const t = performance.now();
      const y = models[k].model.predict(inputs[k]);
      await y.data();
      const ms = performance.now() - t;
      y.dispose();
      return ms;
    };
    for (let w = 0; w < warmup; w++) for (let k = 0; k < models.length; k++) await once(k);
    const times = models.map(() => []);
    for (let r = 0; r < repeats; r++) {
      const order = models.map((_, k) => (r % 2 === 0 ? k : models.length - 1 - k));
      for (const k of order) times[k].push(await once(k));
    }
    for (const x of inputs) x.dispose();
    models.forEach((m, k) => {
      out[m.name][batch] = { median_ms: median(times[k]), min_ms: Math.min(...times[k]), times_ms: times[k].map((t) => Math.round(t * 1000) / 1000) };
    });
  }
  return out;
}
