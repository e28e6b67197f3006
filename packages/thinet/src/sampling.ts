/** The calibration side of ThiNet: which images, and each channel group's sampled contributions. */
import type { LayerPass, LayerPassOptions, ModelInputs } from '@condense/core';
import { rng, shuffle, type ChannelGroup, type Graph } from '@condense/ir';
import { contributionGrams, groupCut, UnsupportedConsumer, type ConsumerGram, type GroupSource, type Images } from './contrib.js';

/** Labelled (or not) images for calibration: NHWC float32. */
export interface CalibrationSet extends Images {
  labels?: ArrayLike<number>;
}

/** `perClass` images of each label (seeded choice); all images up to 10 * perClass when there are no labels. */
export function pickCalibration(set: CalibrationSet, perClass: number, seed: number): Images {
  const size = set.images.length / Math.max(set.count, 1);
  const order = shuffle(
    Int32Array.from({ length: set.count }, (_, i) => i),
    rng(seed),
  );
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

/** Opens a layer pass over the calibration images on a graph (the pipeline's runtime, in a stage). */
export type PassFactory = (graph: Graph, examples: ModelInputs, options?: Pick<LayerPassOptions, 'frozen' | 'retain'>) => LayerPass;

/** The values a later group may sample: the inputs of the layers with contribution formulas. */
function nextLayerInputs(graph: Graph): (value: string) => boolean {
  const inputs = new Set(graph.nodes.filter((n) => n.op === 'conv2d' || n.op === 'dense').map((n) => n.inputs[0]));
  return (value) => inputs.has(value);
}

/** Images per runtime call of ThiNet's passes: it bounds the runtime's working memory (the sampled locations do not depend on it). */
export const PASS_BATCH = 16;

/** The images as model inputs (one graph input). */
export function imageInputs(images: Images): ModelInputs {
  const size = images.images.length / Math.max(images.count, 1);
  const example = images.shape.reduce((a, b) => a * b, 1) === size ? images.shape : images.shape.slice(1);
  return { count: images.count, inputs: [{ values: images.images, shape: [images.count, ...example] }] };
}

/**
 * The sampled contributions of one pruning run: each group's Gram matrices at its next layers,
 * computed once (on the graph as it is when first asked, with the group's seed) and shared by the
 * ranking and the compensation. The next layers' inputs come from one layer pass over the graph
 * being pruned and one over `reference` (the model whose response the kept channels reconstruct,
 * 'original' target): each pass moves forward group by group, so the run costs about one forward
 * pass of each, not one per layer.
 */
export class Sampler {
  private readonly grams = new WeakMap<ChannelGroup, ConsumerGram[] | UnsupportedConsumer>();
  private current?: { graph: Graph; pass: LayerPass };
  private ref?: { graph: Graph; pass: LayerPass };

  constructor(
    readonly images: Images,
    private readonly o: { samplesPerImage: number; means: boolean },
    private readonly open: PassFactory,
    private referenceGraph?: Graph,
  ) {}

  get reference(): Graph | undefined {
    return this.referenceGraph;
  }

  /** The group's Grams, or why its next layers have no contribution formula. */
  async of(graph: Graph, group: ChannelGroup, seed: number): Promise<ConsumerGram[] | UnsupportedConsumer> {
    let r = this.grams.get(group);
    if (r === undefined) {
      try {
        r = await contributionGrams(group, this.source(graph, groupCut(graph, group)), { samplesPerImage: this.o.samplesPerImage, seed, means: this.o.means });
      } catch (e) {
        if (!(e instanceof UnsupportedConsumer)) throw e;
        r = e;
      }
      this.grams.set(group, r);
    }
    return r;
  }

  /** The model changed everywhere (a fine-tune): start both passes again, the reference now `reference`. */
  restart(reference?: Graph): void {
    this.dispose();
    this.referenceGraph = reference;
  }

  dispose(): void {
    this.current?.pass.dispose();
    this.ref?.pass.dispose();
    this.current = this.ref = undefined;
  }

  /**
   * The passes for a group whose first producer is `cut`: the current one positioned no further
   * than it (one that went past starts again); the reference's, over a model that never changes,
   * is frozen, so what it computes for one group's look-ahead serves the next ones too.
   */
  private source(graph: Graph, cut: string): GroupSource {
    const fresh = (p: { graph: Graph; pass: LayerPass } | undefined, g: Graph, frozen: boolean) => {
      if (p && p.graph === g && (frozen || !p.pass.computed(cut))) return p;
      p?.pass.dispose();
      return { graph: g, pass: this.open(g, imageInputs(this.images), frozen ? { frozen, retain: nextLayerInputs(g) } : {}) };
    };
    this.current = fresh(this.current, graph, false);
    const reference = this.referenceGraph;
    if (reference) this.ref = fresh(this.ref, reference, true);
    return { ...this.current, ...(reference && this.ref ? { reference: this.ref } : {}) };
  }
}
