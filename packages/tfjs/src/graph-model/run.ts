/** Running an IR graph as TF.js runs graph models: written as one (in memory) and loaded with tfjs-converter. */
import type { Graph } from '@condense/ir';
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModelSync, type GraphModel } from '@tensorflow/tfjs-converter';
import type { ExportOptions } from '../io/export.js';
import { toGraphModelArtifacts } from './export.js';

/**
 * A `tf.GraphModel` computing the graph: native nodes by the TF ops they are written as, opaque
 * ones by TF.js's own implementation (control flow, dynamic shapes and executeAsync ops
 * included). The caller disposes it. Weights are encoded as `saveModel` would write them, so the
 * outputs are those of the saved model.
 */
export function toGraphModel(graph: Graph, options: ExportOptions = {}): GraphModel<io.IOHandlerSync> {
  const { artifacts } = toGraphModelArtifacts(graph, options);
  return loadGraphModelSync(io.fromMemorySync(artifacts));
}
