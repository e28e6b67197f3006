/** The calibration side of ThiNet: which images, and each channel group's sampled contributions. */
import { rng, shuffle, type ChannelGroup, type Graph } from '@condense/ir';
import { contributionGrams, UnsupportedConsumer, type ConsumerGram, type Images } from './contrib.js';

/** Labelled (or not) images for calibration: NHWC float32. */
export interface CalibrationSet extends Images {
  labels?: ArrayLike<number>;
}

/** `perClass` images of each label (seeded choice); all images up to 10 * perClass when there are no labels. */
export function pickCalibration(set: CalibrationSet, perClass: number, seed: number): Images {
  const size = set.images.length / Math.max(set.count, 1);
  const order = shuffle(Int32Array.from({ length: set.count }, (_, i) => i), rng(seed));
  let chosen: number[];
  if (set.labels) {
    const taken = new Map<number, number>();
    chosen = [];
    for (const i of order) {
      const y = set.labels[i];
      if ((taken.get(y) ?? 0) >= perClass) continue;
      taken.set(y, (taken.get(y) ?? 0) + 1);
      chosen.push(i);
    }
  } else {
    chosen = [...order.slice(0, perClass * 10)];
  }
  chosen.sort((a, b) => a - b);
  const images = new Float32Array(chosen.length * size);
  chosen.forEach((i, k) => images.set(set.images.subarray(i * size, (i + 1) * size), k * size));
  // `shape` is per example or [count, ...example].
  const example = set.shape.reduce((a, b) => a * b, 1) === size ? set.shape : set.shape.slice(1);
  return { images, count: chosen.length, shape: example };
}

/**
 * The sampled contributions of one pruning run: each group's Gram matrices at its next layers,
 * computed once (on the graph as it is when first asked, with the group's seed) and shared by the
 * ranking and the compensation. `reference` is the model whose response the kept channels
 * reconstruct ('original' target), replaced after a between-layer fine-tune.
 */
export class Sampler {
  private readonly grams = new WeakMap<ChannelGroup, ConsumerGram[] | UnsupportedConsumer>();

  constructor(
    readonly images: Images,
    private readonly o: { samplesPerImage: number; means: boolean },
    public reference?: Graph,
  ) {}

  /** The group's Grams, or why its next layers have no contribution formula. */
  of(graph: Graph, group: ChannelGroup, seed: number): ConsumerGram[] | UnsupportedConsumer {
    let r = this.grams.get(group);
    if (r === undefined) {
      try {
        r = contributionGrams(graph, group, this.images, { samplesPerImage: this.o.samplesPerImage, seed, means: this.o.means }, this.reference);
      } catch (e) {
        if (!(e instanceof UnsupportedConsumer)) throw e;
        r = e;
      }
      this.grams.set(group, r);
    }
    return r;
  }
}
