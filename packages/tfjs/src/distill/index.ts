export { Teacher, teacherFor, fingerprint, type TeacherOutputs } from './teacher.js';
export { OutputCache, cachedOutputs, DEFAULT_CACHE_BYTES } from './cache.js';
export { softTargetLoss, kdLoss, hintLoss } from './losses.js';
export {
  hintContribution,
  activateTeacher,
  checkTap,
  checkWeight,
  tapShape,
  type FeatureOptions,
  type HintOptions,
  type HintContribution,
} from './features.js';
export {
  labelFreeContribution,
  matchOf,
  DEFAULT_LABEL_FREE_TEMPERATURE,
  type LabelFreeContribution,
  type LabelFreeStats,
  type MatchKind,
} from './label-free.js';
