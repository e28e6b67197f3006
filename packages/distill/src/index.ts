import type { Registry } from '@condense/core';
import { distillHint, distillKd, distillNst } from './plugins.js';

export { distillKd, distillHint, distillNst, loadTeacher } from './plugins.js';
export {
  kdContribution,
  hintContribution,
  nstContribution,
  type KdOptions,
  type KdStats,
  type KdContribution,
  type FeatureOptions,
  type HintOptions,
  type HintContribution,
} from './contributions.js';
export { softTargetLoss, kdLoss, hintLoss, nstLoss, normalizeSpatial } from './losses.js';
// The teacher, its output cache and the KD / hint losses live in @condense/tfjs (label-free recovery reuses them).
export { Teacher, teacherFor, OutputCache } from '@condense/tfjs';

export const plugins = [distillKd, distillHint, distillNst];

export function register(registry: Registry): void {
  for (const p of plugins) registry.register(p);
}
