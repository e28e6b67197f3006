/** model.json + weight shards <-> condense IR. */
export { ModelIOError } from './errors.js';
export { loadModel, saveModel, type SaveOptions, type SaveResult } from './files.js';
export { fromArtifacts, type KerasMeta } from './import.js';
export { exportTopology, toArtifacts, type ExportOptions, type ExportResult } from './export.js';
export { chooseEncoding, tolerances, type Tolerance, type WeightEncoding, type ManifestDtype, type ChooseOptions, type ChosenEncoding } from './encoding.js';
export {
  registerLayerMapping,
  type LayerMapping,
  type FromKerasContext,
  type ToKerasContext,
  type KerasLayerSpec,
  type OriginalLayer,
} from './mapping.js';
export type { KerasLayer } from './topology.js';
