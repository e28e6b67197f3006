/** ThiNet's options: one schema, the types and the per-importance defaults derived from it. */
import { channelPruneOptions, finetuneSchema, Type, type Static } from '@condense/core';

/** How the channels to remove are ranked: ThiNet's greedy reconstruction criterion, the smallest filter L1 norm, or a seeded random order. */
export type ImportanceName = 'thinet' | 'l1' | 'random';

const Finetune = (description: string) => Type.Optional(finetuneSchema({ description }));

/** The schema of `thinet` (and, with another importance default, of its deprecated baseline aliases). */
export function thinetSchema(importance: ImportanceName = 'thinet') {
  return Type.Object(
    {
      ...channelPruneOptions(['conv2d']),
      importance: Type.Union([Type.Literal('thinet'), Type.Literal('l1'), Type.Literal('random')], {
        default: importance,
        description:
          "how the channels to remove are ranked: 'thinet' (greedy on the sampled contributions), 'l1' (smallest filter L1 norm, Li et al. 2017) or 'random' (seeded); the rest of the stage (calibration, measurement, compensation) is the same",
      }),
      imagesPerClass: Type.Integer({ minimum: 1, default: 20, description: 'calibration images per class' }),
      samplesPerImage: Type.Integer({ minimum: 1, default: 10, description: 'random output locations of the next layer sampled per image' }),
      leastSquares: Type.Optional(
        Type.Boolean({
          description: "rescale the kept channels by least squares, folded into the next layer (default: true for importance 'thinet', else false)",
        }),
      ),
      target: Type.Optional(
        Type.Union([Type.Literal('original'), Type.Literal('current')], {
          description:
            "what the kept channels reconstruct: the next layer's output in the model before this stage ('original', the default for importance 'thinet'), or in the model as pruned so far ('current', the paper; the default otherwise)",
        }),
      ),
      biasCorrection: Type.Optional(
        Type.Boolean({
          description:
            "add the mean shift the removal leaves to the next layer's bias, after the rescaling (default: true for importance 'thinet', else false)",
        }),
      ),
      finetuneBetween: Finetune('a short fine-tune after each pruned layer but the last'),
      finetune: Finetune('a fine-tune once every layer is pruned'),
      seed: Type.Optional(Type.Integer({ description: "default: the pipeline's" })),
    },
    { additionalProperties: false },
  );
}

export const ThinetSchema = thinetSchema();

/** Options after the schema's defaults. */
export type ThinetOptions = Static<typeof ThinetSchema>;

/** What a caller may give (the schema fills the rest). */
export type ThinetInput = Partial<ThinetOptions>;

/** The options with the importance-dependent defaults resolved. */
export type ResolvedOptions = ThinetOptions & Required<Pick<ThinetOptions, 'leastSquares' | 'target' | 'biasCorrection'>>;

/** ThiNet reconstructs the unpruned model's response and corrects the bias by default; the other rankings default to the published baselines (no compensation). */
export function defaultsFor(importance: ImportanceName): Pick<ResolvedOptions, 'leastSquares' | 'target' | 'biasCorrection'> {
  return importance === 'thinet'
    ? { leastSquares: true, target: 'original', biasCorrection: true }
    : { leastSquares: false, target: 'current', biasCorrection: false };
}

export function resolveOptions(o: ThinetOptions): ResolvedOptions {
  const d = defaultsFor(o.importance);
  return { ...o, leastSquares: o.leastSquares ?? d.leastSquares, target: o.target ?? d.target, biasCorrection: o.biasCorrection ?? d.biasCorrection };
}

/** Calibration images are needed to rank (ThiNet) or to compensate. */
export const needsCalibration = (o: ResolvedOptions): boolean => o.importance === 'thinet' || o.leastSquares || o.biasCorrection;
