import { GraphError } from '../errors.js';
import type { Attrs, Node, Param, Shape } from '../types.js';

/** What an op sees when it infers shapes, checks params or counts MACs. */
export interface OpContext {
  node: Node;
  /** Shapes of the node's inputs, in order. */
  inputs: Shape[];
  /** The param bound to a role, if any. */
  param(role: string): Param | undefined;
}

/** A param's axis that is indexed by channels: per input channel or per output channel. */
export interface ParamAxis {
  role: string;
  /** The axis; negative counts from the end of the param's shape (-1: its last axis, e.g. a [1, 1, C] alpha). */
  axis: number;
  /** For ops that expand channels (depthwise multiplier): is the axis indexed by input or output channel? */
  per?: 'in' | 'out';
  /**
   * The axis holds `blocks` runs of the channels one after another (a recurrent layer's gates,
   * [i | f | c | o]): channel c owns positions c, C + c, 2C + c, ...
   */
  blocks?: number;
  /**
   * The param broadcasts across channels when this axis has length 1 or is absent (a scalar or [1]
   * operand): it is then not sliced and does not keep the channels whole.
   */
  broadcast?: boolean;
}

/**
 * How channels (the last axis of a value) flow through an op. This is all the channel-group
 * analysis needs to know about an op, so a new op only picks a kind.
 * - produce: the op creates a new channel space (dense, conv). `in` params are sliced by the
 *   input's channels, `out` params by the output's. `groups` > 1 (a grouped conv): both sides
 *   are split into that many equal groups and position j of every group is coupled (removing it
 *   keeps the groups equal); `in` params then have C / groups entries, one per in-group position.
 * - elementwise: output channel c depends only on input channel c (activations, pooling,
 *   batchNorm, depthwise conv, per-channel scale). `expand` > 1: input channel c feeds output
 *   channels c*expand ... c*expand + expand - 1 (depthwise channel multiplier).
 * - flatten: [N, H, W, C] -> [N, H*W*C]; channel c becomes features c, c + C, c + 2C, ...
 * - add: all inputs and the output share one channel space (coupled); the output is their sum.
 * - combine: the same coupling for other elementwise merges (multiply, maximum, ...); an input
 *   broadcast along the channels (one channel) is not coupled.
 * - concat: channels of input i land at an offset in the output.
 * - opaque: channels cannot be traced through this op; groups that reach it are not prunable.
 */
export type ChannelFlow =
  | { kind: 'produce'; in: ParamAxis[]; out: ParamAxis[]; groups?: (attrs: Attrs) => number }
  | { kind: 'elementwise'; params?: ParamAxis[]; expand?: (attrs: Attrs) => number }
  | { kind: 'flatten' }
  | { kind: 'add' }
  | { kind: 'combine' }
  | { kind: 'concat' }
  | { kind: 'opaque' };

/** A concrete value for the pure-JS reference interpreter: row-major, batch included, NHWC. */
export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

export interface ParamSpec {
  /** The expected shape given the node and its input shapes. */
  shape(ctx: OpContext): number[];
  optional?: boolean;
  /** Prunable weights (kernels) as opposed to biases and normalization params. */
  kind: 'weight' | 'bias' | 'norm' | 'other';
}

/** Which per-channel factors s pass through an op, op(s * x) = s * op(x) channel by channel: every s, or s >= 0 only. */
export type ScalePass = 'any' | 'nonNegative';

/**
 * Facts about the values of one channel through an op whose output channel c depends on input
 * channel c alone (for the node's attrs). Structural rewrites (folding factors, removing constant
 * channels) read these instead of knowing op names.
 */
export interface ChannelValues {
  /** How a per-channel factor passes through; absent: it does not. */
  scale?: ScalePass;
  /**
   * Output channel c when input channel c is the constant `k` (undefined: not known to be
   * constant); returns the output's constant, or undefined when it is not one.
   */
  constant(k: number | undefined, c: number, param: (role: string) => Param | undefined): number | undefined;
}

export interface OpDef {
  op: string;
  /** Number of inputs: exact, `variadic` (at least 1), or `any` (none included). */
  arity: number | 'variadic' | 'any';
  params?: Record<string, ParamSpec>;
  /** Output shape from input shapes (and params). Throws a message string via `fail` on mismatch. */
  inferShape(ctx: OpContext): Shape;
  /** Multiply-accumulates per example (conv and dense style compute only). */
  macs?(ctx: OpContext, out: Shape): number;
  /** How channels flow through the op; a function when that depends on the node's attrs (a permute that moves the last axis is opaque). */
  channels: ChannelFlow | ((node: Node) => ChannelFlow);
  /**
   * Slow, exact pure-JS forward pass (inference mode), used by `runReference` to check
   * rewrites preserve function. Builtin ops have one in testing/reference.ts; plugin ops may add theirs.
   */
  reference?(inputs: RefTensor[], ctx: OpContext): RefTensor;
  /**
   * Per-channel value facts for a node of this op (see `ChannelValues`); undefined, or no
   * `channelValues` at all, when output channels mix input channels (dense, softmax, add).
   */
  channelValues?(node: Node): ChannelValues | undefined;
  /**
   * For ops whose attrs name a channel count (reshape's targetShape): the attrs for the node's
   * input shapes after a channel removal changed them, or undefined to keep the attrs.
   */
  followChannels?(node: Node, inputs: Shape[]): Attrs | undefined;
}

const registry = new Map<string, OpDef>();

/** Register an op. Plugins call this for the ops they introduce; re-registering the same op name replaces it. */
export function registerOp(def: OpDef): OpDef {
  if (!def.op) throw new GraphError('registerOp: the op needs a name');
  const arityOk = def.arity === 'variadic' || def.arity === 'any' || (Number.isInteger(def.arity) && def.arity >= 0);
  if (!arityOk) throw new GraphError(`registerOp '${def.op}': arity must be a non-negative integer, 'variadic' or 'any', got ${String(def.arity)}`);
  registry.set(def.op, def);
  return def;
}

export function getOp(op: string, node?: string): OpDef {
  const def = registry.get(op);
  if (!def) throw new GraphError(`unknown op '${op}' (registered: ${[...registry.keys()].sort().join(', ')})`, node);
  return def;
}

/** The spec of a param role, if the op has that role (own keys only: 'constructor' is not a role). */
export function paramSpecOf(def: OpDef, role: string): ParamSpec | undefined {
  return def.params && Object.hasOwn(def.params, role) ? def.params[role] : undefined;
}

/** The channel flow of a node (its op's, evaluated for the node's attrs when it depends on them). */
export function channelFlow(node: Node, def: OpDef = getOp(node.op, node.name)): ChannelFlow {
  return typeof def.channels === 'function' ? def.channels(node) : def.channels;
}

/**
 * The axis of the op's `kernel` param that is indexed by input ('in') or output ('out') channels,
 * from its channel flow (dense [in, out]: 0 and 1; conv2d HWIO: 2 and 3); undefined when the op
 * does not produce channels from a kernel. Ops whose flow depends on the attrs need the `node`.
 */
export function kernelAxis(def: OpDef, side: 'in' | 'out', node?: Node): number | undefined {
  const flow = typeof def.channels === 'function' ? (node ? def.channels(node) : undefined) : def.channels;
  if (flow?.kind !== 'produce') return undefined;
  return flow[side].find((p) => p.role === 'kernel')?.axis;
}

/** Whether a node of the op may have `n` inputs. */
export function arityAllows(def: OpDef, n: number): boolean {
  if (def.arity === 'any') return true;
  return def.arity === 'variadic' ? n >= 1 : n === def.arity;
}

export function hasOp(op: string): boolean {
  return registry.has(op);
}

export function registeredOps(): string[] {
  return [...registry.keys()].sort();
}

/** Throw a GraphError for the node in `ctx`. */
export function fail(ctx: OpContext, message: string): never {
  throw new GraphError(message, ctx.node.name);
}
