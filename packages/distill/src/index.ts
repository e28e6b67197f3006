import type { Registry } from '@condense/core';
import { distillHint, distillKd, distillNst } from './plugins.js';

export { distillKd, distillHint, distillNst, loadTeacher } from './plugins.js';
export {
  kdContribution, hintContribution, nstContribution,
  type KdOptions, type KdStats, type KdContribution, type FeatureOptions, type HintOptions, type HintContribution,
} from './contributions.js';
export { softTargetLoss, kdLoss, hintLoss, nstLoss, normalizeSpatial } from './losses.js';
export { LogitCache } from './cache.js';
export { Teacher, teacherFor } from './teacher.js';

export const plugins = [distillKd, distillHint, distillNst];

export function register(registry: Registry): void {
  for (const p of plugins) registry.register(p);
}
