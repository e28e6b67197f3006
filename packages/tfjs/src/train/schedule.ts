/** Where training is, for a learning-rate schedule. `step` counts from 0. */
export interface ScheduleInfo {
  step: number;
  epoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** The base learning rate. */
  base: number;
}

/**
 * - constant: the base rate.
 * - step: base * gamma^floor(epoch / every) (gamma default 0.1).
 * - cosine: from base down to minLearningRate (default 0) over all steps, half a cosine.
 * - exponential: base * gamma^(step / stepsPerEpoch), i.e. times gamma per epoch, smoothly.
 * - a function of the position.
 */
export type LearningRateSchedule =
  | { type: 'constant' }
  | { type: 'step'; every: number; gamma?: number }
  | { type: 'cosine'; minLearningRate?: number }
  | { type: 'exponential'; gamma: number }
  | ((at: ScheduleInfo) => number);

export function learningRateAt(schedule: LearningRateSchedule | undefined, at: ScheduleInfo): number {
  if (schedule === undefined) return at.base;
  if (typeof schedule === 'function') return schedule(at);
  switch (schedule.type) {
    case 'constant':
      return at.base;
    case 'step':
      if (!(schedule.every > 0)) throw new Error(`schedule 'step': every must be > 0 epochs, got ${schedule.every}`);
      return at.base * (schedule.gamma ?? 0.1) ** Math.floor(at.epoch / schedule.every);
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      const t = at.totalSteps > 0 ? Math.min(at.step / at.totalSteps, 1) : 0;
      return min + (at.base - min) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
    case 'exponential':
      return at.base * schedule.gamma ** (at.step / at.stepsPerEpoch);
    default:
      throw new Error(`unknown learning-rate schedule '${String((schedule as { type: unknown }).type)}'`);
  }
}
