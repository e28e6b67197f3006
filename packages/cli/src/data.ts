import { loadFashionMnist, type FashionMnist } from '@condense/datasets';
import type { PipelineData } from '@condense/core';
import { inferShapes, type Graph } from '@condense/ir';

export interface DataOptions {
  data?: string;
  limitTrain?: number;
  limitTest?: number;
}

/** Fashion-MNIST from `--data`, FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist, or the embedded subset. */
export async function loadData(o: DataOptions): Promise<{ data: PipelineData; source: FashionMnist['source']; describe: string }> {
  const fm = await loadFashionMnist({ dir: o.data, limit: { train: o.limitTrain, test: o.limitTest } });
  return {
    data: { train: fm.train, test: fm.test },
    source: fm.source,
    describe: `Fashion-MNIST (${fm.source.kind === 'embedded' ? 'embedded subset' : fm.source.dir}): ${fm.train.count} train / ${fm.test.count} test`,
  };
}

/**
 * Why the dataset cannot feed the model (a graph model of other inputs, say), or undefined when
 * its images fit the model's single input.
 */
export function dataMismatch(graph: Graph, data: PipelineData): string | undefined {
  const split = data.train ?? data.test;
  if (!split) return undefined;
  const images = split.shape.slice(1);
  const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;
  if (graph.inputs.length !== 1) return `the model has ${graph.inputs.length} inputs and the dataset one`;
  const want = (inferShapes(graph).get(graph.inputs[0]) ?? []).slice(1);
  const fits = want.length === images.length && want.every((d, i) => d === null || d === images[i]);
  return fits ? undefined : `the model takes ${fmt(want)} inputs and the dataset's images are ${fmt(images)}`;
}
