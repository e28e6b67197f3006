import type { Attrs, Graph, Node, Param, Shape } from '@condense/ir';
import type { JsonObject } from './errors.js';
import type { KerasLayer } from './topology.js';

/** What a `fromKeras` hook sees while it turns one Keras layer into IR nodes. */
export interface FromKerasContext {
  /** The model file (or 'model artifacts'), for error messages. */
  source: string;
  /** `keras_version` of the file, e.g. 'tfjs-layers 4.22.0' or '2.15.0'. */
  kerasVersion?: string;
  /** IR values feeding the layer, in Keras order. */
  inputs: string[];
  inputShapes: Shape[];
  /**
   * The layer's weight for a Keras role ('kernel', 'bias', 'depthwise_kernel', 'gamma', ...).
   * Throws an error naming the layer and weight when it is missing, unless `optional`.
   */
  weight(role: string, optional?: false): Param;
  weight(role: string, optional: true): Param | undefined;
  /**
   * Append an IR node (params: IR role -> a Param from `weight`). Returns its output shape.
   * The layer's output is the node named like the layer, so add that one last.
   */
  addNode(node: { name: string; op: string; inputs: string[]; attrs?: Attrs; params?: Record<string, Param> }): Shape;
  /**
   * The IR value of the mask the layer is called with (0 = a padded step), if any: Keras 3's
   * kwargs.mask, or in older files the mask an Embedding with mask_zero passes down implicitly.
   */
  mask?: string;
  /** Keras 3 files name masks in every call; in older ones they flow implicitly (see `setMask`). */
  explicitMasks: boolean;
  /** Implicit masks: the mask the layer's output carries on (an Embedding with mask_zero makes one). */
  setMask(value: string | undefined): void;
  /** Numbers among the call's arguments (a Keras 3 op node such as x + 3.0), with their position among all arguments. */
  constants: { position: number; value: number }[];
  /** Throw an error naming the file, layer and class. */
  fail(message: string): never;
}

/** One Keras layer to write: class, snake_case config (without `name`), inputs, weights. */
export interface KerasLayerSpec {
  className: string;
  name: string;
  config: JsonObject;
  /** Keras names of the layers feeding this one. */
  inputs: string[];
  /** Keras weight role ('kernel', 'bias', ...) -> param; written as `<name>/<role>`. */
  weights?: Record<string, Param>;
}

/** A Keras layer as the source file had it (kept in `graph.meta.keras.layers`). */
export interface OriginalLayer {
  className: string;
  config: JsonObject;
}

/** What a `toKeras` hook sees while it turns one IR node into Keras layers. */
export interface ToKerasContext {
  graph: Graph;
  shapes: Map<string, Shape>;
  /** The Keras name of this node's output layer: the last spec returned must carry it. */
  name: string;
  /** Keras names of the node's inputs. */
  inputs: string[];
  param(role: string): Param | undefined;
  /** The Keras layer this node was imported from (class and config as in the source file), if any. */
  original?: OriginalLayer;
  /** The same for any node. */
  originalOf(node: string): OriginalLayer | undefined;
  /** The Keras name of the layer that produces an IR value. */
  kerasName(value: string): string;
  /** Nodes that read an IR value. */
  consumers(value: string): Node[];
  /** A fresh Keras layer name derived from `base`, for extra layers a node needs. */
  uniqueName(base: string): string;
  /** Say in the export's notes what could not be written as the IR has it (a grouped conv written dense). */
  note(message: string): void;
  fail(message: string): never;
}

export interface LayerMapping {
  /** Keras class names that `fromKeras` imports. */
  kerasClass?: string | string[];
  fromKeras?(layer: KerasLayer, ctx: FromKerasContext): void;
  /**
   * The roles `fromKeras` asks for, in the order Keras 3 saves the layer's variables
   * (`save_own_variables`: usually creation order, trainable ones first), e.g. ['kernel', 'bias'].
   * Needed for files whose weights are named by position, as the converter's .keras path writes
   * them (`layers/<class_name>_<n>/vars/<i>`); without it such files fail to import for this class.
   */
  kerasWeightOrder?(layer: KerasLayer): string[];
  /** Keras layers for an IR node (usually one; [] when another node's layer covers it). */
  toKeras?(node: Node, ctx: ToKerasContext): KerasLayerSpec | KerasLayerSpec[];
  /**
   * How the layer treats a mask it is called with: 'propagate' (its output carries the same mask:
   * Dropout, Dense, the normalizations) or 'read' (`fromKeras` uses `ctx.mask`, and calls
   * `setMask` for what its output carries: a recurrent layer). A layer without it that is called
   * with a mask fails to import, unless the mask is implicit (then it stops there, as in TF.js).
   */
  masking?: 'propagate' | 'read';
  /** `fromKeras` also reads Keras 3 op nodes of its classes (x + 3.0 as class Add): see `ctx.constants`. */
  opNodes?: boolean;
}

const byOp = new Map<string, LayerMapping>();
const byClass = new Map<string, LayerMapping>();

/**
 * Teach import/export an IR op: `toKeras` writes nodes of `op` as Keras layers, `fromKeras` reads
 * the Keras classes named in `kerasClass`. Plugins register their ops here (a later registration
 * for the same op or class replaces the earlier one).
 */
export function registerLayerMapping(op: string, mapping: LayerMapping): void {
  const classes = mapping.kerasClass === undefined ? [] : Array.isArray(mapping.kerasClass) ? mapping.kerasClass : [mapping.kerasClass];
  if (classes.length && !mapping.fromKeras) throw new Error(`registerLayerMapping('${op}'): kerasClass given without fromKeras`);
  byOp.set(op, { ...byOp.get(op), ...mapping });
  for (const c of classes) byClass.set(c, mapping);
}

export const mappingForOp = (op: string): LayerMapping | undefined => byOp.get(op);
export const mappingForClass = (className: string): LayerMapping | undefined => byClass.get(className);
export const importableClasses = (): string[] => [...byClass.keys()].sort();
