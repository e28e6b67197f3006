/**
 * How TensorFlow ops of a graph model become IR nodes and back. One small file per op family
 * under ./ops registers an importer per TF op and an exporter per IR op; a TF op without an
 * importer (or whose importer declines a node) becomes an opaque `tfOp` node that TF.js runs.
 */
import type { Attrs, Graph, Node, Param, Shape } from '@condense/ir';
import type { ValueWeight } from '../io/weights.js';
import type { TensorRef } from './parse.js';
import type { NodeDef } from './types.js';

/** What an importer knows about one data input of the TF node. */
export interface TfInput extends TensorRef {
  /** The IR value holding it (port 0 of a node with an IR value), if any. */
  value?: string;
  /** That value's IR shape, when known. */
  shape?: Shape;
  /** The float constant it is (its param, named like the Const node). */
  param?: Param;
  /** The non-float constant it is (int32, bool, string). */
  values?: ValueWeight;
}

/** One IR node an importer plans: inputs are TF data-input indices (numbers) or names of nodes planned before it. */
export interface PlannedNode {
  /** Default: the TF node's name (the last planned node must keep it). */
  name?: string;
  op: string;
  inputs: (number | string)[];
  attrs?: Attrs;
  /** role -> index of the TF data input that is the float constant bound to it. */
  params?: Record<string, number>;
  /** TF data inputs the node reads whatever their shape (a size computed at run time); the others need known shapes. */
  anyShape?: number[];
}

export interface ImportContext {
  node: NodeDef;
  /** Data inputs, control inputs excluded. */
  inputs: TfInput[];
  /** The static batch size of the graph (every input's first dimension), when one is known. */
  batch: number | undefined;
}

/** An importer returns the IR nodes for a TF node, or why it cannot (the node then stays opaque). */
export type Importer = (ctx: ImportContext) => PlannedNode[] | string;

export interface ExportContext {
  graph: Graph;
  shapes: Map<string, Shape>;
  /** The TF node this IR node was read from (a copy, free to edit), if any. */
  template(node: Node): NodeDef | undefined;
  /** The TF input list entry that reads IR value `value`. */
  tensor(value: string): string;
  /** The Const node holding the param bound to `role` (written once, with its weight); returns its name. */
  param(node: Node, role: string): string;
  /** A Const holding non-float values, named `preferred` unless that name holds other values; returns its name. */
  values(preferred: string, weight: Omit<ValueWeight, 'name'>): string;
  /** The values a non-float Const the node read as attrs had at import (`attrs.tf.consts`). */
  original(node: Node, constName: string): Omit<ValueWeight, 'name'> | undefined;
  /** The IR nodes reading a value. */
  readers(value: string): Node[];
  fail(node: Node, message: string): never;
}

/**
 * An exporter writes the TF node(s) for an IR node (none when another exporter writes it as part
 * of a fused node).
 */
export type Exporter = (node: Node, ctx: ExportContext) => NodeDef[];

const importers = new Map<string, Importer>();
const exporters = new Map<string, Exporter>();

/** Register how TF ops import (one importer for several ops is fine). */
export function registerGraphImporter(tfOps: readonly string[], importer: Importer): void {
  for (const op of tfOps) importers.set(op, importer);
}

/** Register how an IR op is written into a GraphDef. */
export function registerGraphExporter(irOps: readonly string[], exporter: Exporter): void {
  for (const op of irOps) exporters.set(op, exporter);
}

export const importerOf = (tfOp: string): Importer | undefined => importers.get(tfOp);
export const exporterOf = (irOp: string): Exporter | undefined => exporters.get(irOp);
export const exportableOps = (): string[] => [...exporters.keys()].sort();

/** The TF node an IR node was read from, kept in `attrs.tf.node`. */
export interface TfAttrs {
  node?: NodeDef;
  /** For a node planned as part of a fused TF node (a conv before its fused Prelu): that node's name. */
  partOf?: string;
  /** tfOp: for each entry of the template's input list, the index into the IR node's inputs (-1: kept as written, a loop's back edge). */
  inputMap?: number[];
  /** tfOp: the output shape the importer could infer, null when unknown. */
  outputShape?: (number | null)[] | null;
  /** tfOp: why the node stayed opaque (an importer declined it), if an importer exists. */
  reason?: string;
  /** constant: the library function whose Const this is. */
  function?: string;
  /** constant: a Const of the model's initializer graph (`modelInitializer`, kept as read). */
  initializer?: boolean;
  /** Non-float Consts the node read as attrs (paddings, axes, shapes), by name, as they were. */
  consts?: Record<string, Omit<ValueWeight, 'name'>>;
}

export const tfAttrs = (node: Node): TfAttrs => (node.attrs.tf ?? {}) as TfAttrs;
