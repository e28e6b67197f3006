import type * as tf from '@tensorflow/tfjs-core';
import type { Graph, Node } from '@condense/ir';

/** What a kernel sees besides its inputs and params. */
export interface KernelContext {
  /** Training mode: dropout drops, batchNorm uses batch statistics. */
  training: boolean;
  /** A seed for this node and this call (dropout); deterministic given the model seed and call. */
  seed: number;
  graph: Graph;
  /**
   * Training mode only: whether gradients must flow to this node's inputs (some upstream param is
   * trainable). Kernels may skip computing input gradients when false (the first layer's dx).
   */
  inputGrad: boolean;
  /**
   * Request a new value for one of the node's state params (a role listed in the kernel's
   * `stateRoles`, e.g. batchNorm's moving statistics). Applied after the forward pass, only in
   * training mode and only when the param is not frozen.
   */
  assign(role: string, value: tf.Tensor): void;
}

/** Computes one node's output. `params` maps the node's param roles to their current values. */
export type Kernel = (node: Node, inputs: tf.Tensor[], params: Record<string, tf.Tensor>, ctx: KernelContext) => tf.Tensor;

export interface KernelOptions {
  /** Param roles the optimizer never moves; the kernel may update them through `ctx.assign`. */
  stateRoles?: string[];
}

export interface KernelEntry extends KernelOptions {
  op: string;
  fn: Kernel;
}

const kernels = new Map<string, KernelEntry>();

/** Register the executor of an op (plugins call this for their ops). Re-registering replaces. */
export function registerKernel(op: string, fn: Kernel, options: KernelOptions = {}): void {
  kernels.set(op, { op, fn, ...options });
}

export function hasKernel(op: string): boolean {
  return kernels.has(op);
}

/** The kernel of an op; the error names the node and lists the ops that have kernels. */
export function getKernel(op: string, node?: string): KernelEntry {
  const k = kernels.get(op);
  if (!k) {
    const where = node === undefined ? '' : `node '${node}': `;
    throw new Error(`${where}no kernel for op '${op}' (kernels: ${registeredKernels().join(', ')}); register one with registerKernel('${op}', ...)`);
  }
  return k;
}

export function registeredKernels(): string[] {
  return [...kernels.keys()].sort();
}
