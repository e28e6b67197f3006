/** Running an IR graph as TF.js runs graph models: written as one (in memory) and loaded with tfjs-converter. */
import type { Graph } from '@condense/ir';
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModelSync, type GraphModel } from '@tensorflow/tfjs-converter';
import { ModelIOError } from '../io/errors.js';
import type { ExportOptions } from '../io/export.js';
import { toGraphModelArtifacts } from './export.js';

/**
 * A `tf.GraphModel` computing the graph: native nodes by the TF ops they are written as, opaque
 * ones by TF.js's own implementation (control flow, dynamic shapes and executeAsync ops
 * included). The caller disposes it. Weights are encoded as `saveModel` would write them, so the
 * outputs are those of the saved model. A node TF.js cannot run fails (when the model is built
 * or run) with an error naming it, its op and the source file.
 */
export function toGraphModel(graph: Graph, options: ExportOptions = {}): GraphModel<io.IOHandlerSync> {
  const { artifacts } = toGraphModelArtifacts(graph, options);
  const where = graph.meta.source ?? `graph '${graph.name}'`;
  const explain = (e: unknown) => new ModelIOError(`${where}: ${cannotRun(graph, e)}`);
  let model: GraphModel<io.IOHandlerSync>;
  try {
    model = loadGraphModelSync(io.fromMemorySync(artifacts));
  } catch (e) {
    throw explain(e);
  }
  // TF.js refuses an op it has no executor for only when it reaches it: say which node that is.
  for (const method of ['execute', 'executeAsync', 'predict', 'predictAsync'] as const) {
    const run = (model[method] as (...args: unknown[]) => unknown).bind(model);
    Object.defineProperty(model, method, {
      value: (...args: unknown[]) => {
        try {
          const r = run(...args);
          return r instanceof Promise ? r.catch((e) => Promise.reject(unknownOp(e) ? explain(e) : e)) : r;
        } catch (e) {
          throw unknownOp(e) ? explain(e) : e;
        }
      },
    });
  }
  return model;
}

const UNKNOWN_OP = /(?:Unknown op '([^']+)'|Op is not supported: (\S+))/;
const unknownOp = (e: unknown): boolean => UNKNOWN_OP.test((e as Error)?.message ?? '');

/** TF.js's refusal to build or run a graph, naming the node and op where it says which op. */
function cannotRun(graph: Graph, e: unknown): string {
  const message = ((e as Error)?.message ?? String(e)).split('\n')[0];
  const m = UNKNOWN_OP.exec(message);
  const op = m?.[1] ?? m?.[2];
  const node = op ? graph.nodes.find((n) => n.op === 'tfOp' && (n.attrs.tf as { node?: { op?: string } })?.node?.op === op) : undefined;
  return node ? `node '${node.name}' (${op}): TF.js cannot run this op (${message})` : `TF.js cannot build the graph (${message})`;
}
