/** GraphModels (tfjs-converter's graph-model format) <-> condense IR. */
export { importGraphModel, graphModelMeta, type GraphModelParts } from './import.js';
export { toGraphModelArtifacts, graphModelTopology, type GraphModelArtifacts, type StoredGraphWeight } from './export.js';
export { toGraphModel } from './run.js';
import './kernel.js';
export { isGraphModelJson } from './parse.js';
export { graphNodeInfo, opaqueOpCounts, type GraphNodeInfo } from './describe.js';
export {
  registerGraphImporter,
  registerGraphExporter,
  type Importer,
  type Exporter,
  type ImportContext,
  type ExportContext,
  type PlannedNode,
  type TfInput,
} from './mapping.js';
export type { GraphModelMeta, NodeDef } from './types.js';
