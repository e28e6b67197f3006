import { loadFashionMnist, type FashionMnist } from '@condense/datasets';
import type { PipelineData } from '@condense/core';

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
