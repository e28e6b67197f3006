import { GraphError } from './errors.js';
import { createGraph, inferShapes, param, sizeOf, validate } from './graph.js';
import { rng } from './random.js';
import type { ActivationFn } from './ops/activations.js';
import type { Padding } from './ops/common.js';
import type { Attrs, Graph, Shape } from './types.js';

export interface LayerOptions {
  name?: string;
  activation?: ActivationFn;
  bias?: boolean;
}
export interface ConvOptions extends LayerOptions {
  strides?: number | [number, number];
  padding?: Padding;
  dilation?: number | [number, number];
}

/**
 * Builds graphs in code with Keras-like defaults (Glorot-uniform kernels, zero biases), seeded.
 * Each call appends a node reading the current value (or `from`) and makes it current.
 */
export class GraphBuilder {
  readonly graph: Graph;
  current: string;
  private random: () => number;
  private counts = new Map<string, number>();

  constructor(name: string, inputShape: number[], seed = 1) {
    this.graph = createGraph(name);
    this.random = rng(seed);
    this.current = this.add('input', [], { shape: inputShape }, {}, 'input');
    this.graph.inputs.push(this.current);
  }

  /** `${base}_${k}` for the next k not already taken (explicit names may use the same pattern). */
  private uniqueName(base: string): string {
    let n = this.counts.get(base) ?? 0;
    do n++;
    while (this.graph.nodes.some((x) => x.name === `${base}_${n}`));
    this.counts.set(base, n);
    return `${base}_${n}`;
  }

  private shapeOf(value: string): Shape {
    return inferShapes(this.graph).get(value) as Shape;
  }

  private glorot(shape: number[], fanIn: number, fanOut: number): Float32Array {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return Float32Array.from({ length: sizeOf(shape) }, () => (this.random() * 2 - 1) * limit);
  }

  /** Append any op. Params are given as role -> [shape, data?]; returns the new value's name. */
  add(op: string, inputs: string[], attrs: Attrs = {}, params: Record<string, [number[], Float32Array?]> = {}, name?: string): string {
    const nodeName = name ?? this.uniqueName(op);
    if (this.graph.nodes.some((n) => n.name === nodeName)) throw new GraphError('duplicate node name', nodeName);
    const bound: Record<string, string> = {};
    for (const [role, [shape, data]] of Object.entries(params)) {
      const pname = `${nodeName}/${role}`;
      this.graph.params.set(pname, param(pname, shape, data));
      bound[role] = pname;
    }
    this.graph.nodes.push({ name: nodeName, op, inputs, attrs, params: bound });
    this.current = nodeName;
    return nodeName;
  }

  dense(units: number, o: LayerOptions = {}, from = this.current): this {
    const inF = this.shapeOf(from).at(-1) as number;
    const params: Record<string, [number[], Float32Array?]> = { kernel: [[inF, units], this.glorot([inF, units], inF, units)] };
    if (o.bias !== false) params.bias = [[units]];
    this.add('dense', [from], o.activation ? { activation: o.activation } : {}, params, o.name);
    return this;
  }

  conv2d(filters: number, kernel: number | [number, number], o: ConvOptions = {}, from = this.current): this {
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
    const cin = this.shapeOf(from).at(-1) as number;
    const shape = [kh, kw, cin, filters];
    const params: Record<string, [number[], Float32Array?]> = { kernel: [shape, this.glorot(shape, kh * kw * cin, kh * kw * filters)] };
    if (o.bias !== false) params.bias = [[filters]];
    this.add('conv2d', [from], convAttrs(o), params, o.name);
    return this;
  }

  depthwiseConv2d(kernel: number, o: ConvOptions & { depthMultiplier?: number } = {}, from = this.current): this {
    const cin = this.shapeOf(from).at(-1) as number;
    const m = o.depthMultiplier ?? 1;
    const shape = [kernel, kernel, cin, m];
    const params: Record<string, [number[], Float32Array?]> = { kernel: [shape, this.glorot(shape, kernel * kernel, kernel * kernel * m)] };
    if (o.bias !== false) params.bias = [[cin * m]];
    this.add('depthwiseConv2d', [from], { ...convAttrs(o), ...(m !== 1 ? { depthMultiplier: m } : {}) }, params, o.name);
    return this;
  }

  batchNorm(o: { name?: string; epsilon?: number } = {}, from = this.current): this {
    const c = this.shapeOf(from).at(-1) as number;
    this.add(
      'batchNorm',
      [from],
      { epsilon: o.epsilon ?? 1e-3 },
      {
        gamma: [[c], new Float32Array(c).fill(1)],
        beta: [[c]],
        movingMean: [[c]],
        movingVariance: [[c], new Float32Array(c).fill(1)],
      },
      o.name,
    );
    return this;
  }

  activation(fn: ActivationFn, o: { name?: string; alpha?: number } = {}, from = this.current): this {
    this.add('activation', [from], { fn, ...(o.alpha !== undefined ? { alpha: o.alpha } : {}) }, {}, o.name);
    return this;
  }

  maxPool2d(size = 2, o: { name?: string; strides?: number; padding?: Padding } = {}, from = this.current): this {
    this.add(
      'maxPool2d',
      [from],
      { poolSize: [size, size], ...(o.strides ? { strides: [o.strides, o.strides] } : {}), padding: o.padding ?? 'valid' },
      {},
      o.name,
    );
    return this;
  }

  avgPool2d(size = 2, o: { name?: string; strides?: number; padding?: Padding } = {}, from = this.current): this {
    this.add(
      'avgPool2d',
      [from],
      { poolSize: [size, size], ...(o.strides ? { strides: [o.strides, o.strides] } : {}), padding: o.padding ?? 'valid' },
      {},
      o.name,
    );
    return this;
  }

  globalAvgPool2d(o: { name?: string } = {}, from = this.current): this {
    this.add('globalAvgPool2d', [from], {}, {}, o.name);
    return this;
  }

  flatten(o: { name?: string } = {}, from = this.current): this {
    this.add('flatten', [from], {}, {}, o.name);
    return this;
  }

  dropout(rate: number, o: { name?: string } = {}, from = this.current): this {
    this.add('dropout', [from], { rate }, {}, o.name);
    return this;
  }

  zeroPad2d(padding: number | [[number, number], [number, number]], o: { name?: string } = {}, from = this.current): this {
    this.add('zeroPad2d', [from], { padding }, {}, o.name);
    return this;
  }

  addValues(inputs: string[], o: { name?: string } = {}): this {
    this.add('add', inputs, {}, {}, o.name);
    return this;
  }

  concat(inputs: string[], o: { name?: string } = {}): this {
    this.add('concat', inputs, { axis: -1 }, {}, o.name);
    return this;
  }

  /** Mark the current value (or the given ones) as the graph outputs and return the graph. */
  build(outputs: string[] = [this.current]): Graph {
    this.graph.outputs = outputs;
    validate(this.graph);
    return this.graph;
  }
}

function convAttrs(o: ConvOptions): Attrs {
  const attrs: Attrs = { padding: o.padding ?? 'valid' };
  if (o.strides !== undefined) attrs.strides = typeof o.strides === 'number' ? [o.strides, o.strides] : o.strides;
  if (o.dilation !== undefined) attrs.dilation = typeof o.dilation === 'number' ? [o.dilation, o.dilation] : o.dilation;
  if (o.activation) attrs.activation = o.activation;
  return attrs;
}
