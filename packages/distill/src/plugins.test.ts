import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, finetune, parseRecipe, pipeline } from '@condense/core';
import { GraphBuilder, rng, serializeGraph, type Graph } from '@condense/ir';
import { tfjsRuntime } from '@condense/tfjs';
import { distillKd, distillNst, plugins, register } from './index.js';

const runtime = tfjsRuntime();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function split(count: number, seed = 1) {
  const r = rng(seed);
  const protos = Array.from({ length: 3 }, () => Float32Array.from({ length: 16 }, () => r()));
  const images = new Float32Array(count * 16);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < 16; j++) images[i * 16 + j] = protos[labels[i]][j] + (r() - 0.5) * 0.6;
  }
  return { images, labels, count, shape: [count, 4, 4, 1] };
}

const net = (name: string, channels: number, seed: number): Graph =>
  new GraphBuilder(name, [4, 4, 1], seed)
    .conv2d(channels, 3, { name: 'feat', padding: 'same', activation: 'relu' })
    .flatten({ name: 'flat' })
    .dense(3, { name: 'out', activation: 'softmax' })
    .build();

const data = { train: split(32), test: split(30, 2) };
const weights = (g: Graph) => Array.from(g.params.get('out/kernel')!.data);

describe('distill plugins', () => {
  it('registers distill.kd, distill.hint and distill.nst', () => {
    const registry = createRegistry();
    register(registry);
    expect(plugins.map((p) => p.pluginName)).toEqual(['distill.kd', 'distill.hint', 'distill.nst']);
    for (const p of plugins) expect(registry.get(p.pluginName)).toBeDefined();
  });

  it('distils the following fine-tune from the model before the pipeline by default', async () => {
    const model = net('model', 4, 1);
    const plain = await pipeline([finetune({ epochs: 2, batchSize: 16, learningRate: 0.01 })]).run(model, { data, runtime, seed: 1 });
    const kd = await pipeline([distillKd({ temperature: 2, alpha: 0.9 }), finetune({ epochs: 2, batchSize: 16, learningRate: 0.01 })]).run(model, {
      data,
      runtime,
      seed: 1,
    });
    expect(kd.stages[0].notes).toEqual(["teacher: 'model' (the pipeline's teacher)"]);
    expect(weights(kd.graph)).not.toEqual(weights(plain.graph));
    // The default scope is the next finetune stage only: a second one trains as without KD.
    const ft = () => finetune({ epochs: 1, batchSize: 16, learningRate: 0.01 });
    const once = await pipeline([distillKd({ temperature: 2 }), ft()]).run(model, { data, runtime, seed: 1 });
    const thenPlain = await pipeline([ft()]).run(once.graph, { data, runtime, seed: 1 });
    const next = await pipeline([distillKd({ temperature: 2 }), ft(), ft()]).run(model, { data, runtime, seed: 1 });
    const all = await pipeline([distillKd({ temperature: 2, scope: 'all' }), ft(), ft()]).run(model, { data, runtime, seed: 1 });
    expect(weights(next.graph)).toEqual(weights(thenPlain.graph));
    expect(weights(all.graph)).not.toEqual(weights(thenPlain.graph));
  });

  it('reads a teacher named in a recipe (.cir) and names a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distill-'));
    const teacherPath = join(dir, 'teacher.cir');
    writeFileSync(teacherPath, serializeGraph(net('big', 6, 3)));
    const registry = createRegistry();
    register(registry);
    const recipe = `stages:\n  - distill.kd: { teacher: '${teacherPath}', temperature: 3, alpha: 0.5 }\n  - finetune: { epochs: 1, batchSize: 16 }`;
    const result = await buildPipeline(parseRecipe(recipe), registry).run(net('small', 2, 2), { data, runtime, seed: 1 });
    expect(result.stages[0].notes).toEqual([`teacher: 'big' from ${teacherPath}`]);
    const missing = `stages:\n  - distill.kd: { teacher: '${join(dir, 'nope')}' }\n  - finetune: { epochs: 1 }`;
    await expect(buildPipeline(parseRecipe(missing), registry).run(net('small', 2, 2), { data, runtime })).rejects.toThrow(/nope/);
  });

  it('rejects bad options naming the field, and a tap missing from the student', async () => {
    expect(() => distillKd({ temperature: 0 })).toThrow(/temperature/);
    expect(() => distillKd({ alpha: 2 })).toThrow(/alpha/);
    expect(() => distillNst({ teacherTap: 'feat' } as never)).toThrow(/studentTap/);
    const run = pipeline([distillNst({ teacherTap: 'feat', studentTap: 'conv7' }), finetune({ epochs: 1 })]).run(net('s', 2, 2), { data, runtime });
    await expect(run).rejects.toThrow(/distill.nst: studentTap 'conv7' is not a node of the student 's'/);
  });
});
