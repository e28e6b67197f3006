/**
 * Data-aware refinement of the factors, with the model before factorization as the target: layer
 * by layer (in graph order), the factors are trained so that the layer's pre-activation on the
 * inputs it now receives matches what the original layer produced at that point of the original
 * network. The nearest Kronecker product minimises ||W - W_r|| regardless of the inputs; this
 * minimises the error on the data, and each layer also absorbs the error of the layers before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getNode, rng, shuffle, strides2, type Graph, type Node } from '@condense/ir';
import { compile, type CompiledModel } from '@condense/tfjs';
import { KroneckerError } from './factorize.js';
import { kronConv2d, kronMatMul } from './runtime.js';

export interface FitOptions {
  /** Passes over the examples per layer. Default 1. */
  epochs?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  batchSize?: number;
  /** Use at most this many training examples. Default: all. */
  samples?: number;
  seed?: number;
}

export interface FitReport {
  layer: string;
  /** ||y - y_target|| / ||y_target|| of the pre-activation on the fitted examples, before and after. */
  outputErrorBefore: number;
  outputErrorAfter: number;
  steps: number;
}

/** Images (NHWC float32, row-major) the layers are fitted on. */
export interface FitData {
  images: Float32Array;
  count: number;
  shape: readonly number[];
}

const padding = (node: Node) => (node.attrs.padding as 'same' | 'valid' | undefined) ?? 'valid';

/** Pre-activation of a dense / conv2d / kronDense / kronConv2d node from its input and its param tensors. */
function preActivation(node: Node, x: tf.Tensor, p: Record<string, tf.Tensor>): tf.Tensor {
  let y: tf.Tensor;
  switch (node.op) {
    case 'dense':
      y = tf.matMul(tf.reshape(x, [-1, p.kernel.shape[0]]) as tf.Tensor2D, p.kernel as tf.Tensor2D);
      break;
    case 'conv2d':
      y = tf.conv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, strides2(node.attrs), padding(node), 'NHWC', 1);
      break;
    case 'kronDense':
      y = kronMatMul(tf.reshape(x, [-1, (p.a.shape[1] as number) * (p.b.shape[1] as number)]) as tf.Tensor2D, p.a as tf.Tensor3D, p.b as tf.Tensor3D);
      break;
    case 'kronConv2d':
      y = kronConv2d(x as tf.Tensor4D, p.a as tf.Tensor5D, p.b as tf.Tensor5D, { strides: strides2(node.attrs), padding: padding(node) });
      break;
    default:
      throw new KroneckerError(`layer '${node.name}': cannot fit op '${node.op}'`);
  }
  return p.bias ? tf.add(y, p.bias) : y;
}

function paramsOf(model: CompiledModel, node: Node): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(node.params).map(([role, name]) => [role, model.variables.get(name) as tf.Variable]));
}

/** The input value of `node` in each model for a batch of images (inference mode). */
function inputsAt(model: CompiledModel, node: Node, x: tf.Tensor): tf.Tensor {
  const input = node.inputs[0];
  if (model.graph.inputs.includes(input)) return tf.clone(x);
  const r = model.predict(x, { taps: [input] });
  tf.dispose([r.output, ...r.outputs, r.logits]);
  return r.taps[input];
}

/**
 * Fit the named Kronecker layers of `graph` (in place) to the matching layers of `reference`,
 * the graph before factorization (same node names, the same ops upstream or factorized ones).
 */
export async function fitToReference(graph: Graph, reference: Graph, layers: string[], data: FitData, o: FitOptions = {}): Promise<FitReport[]> {
  const count = Math.min(data.count, o.samples ?? data.count);
  if (count < 1) throw new KroneckerError('fit: no training examples');
  const example = data.shape.length === 4 ? data.shape.slice(1) : data.shape;
  const size = example.reduce((a, b) => a * b, 1);
  const batchSize = o.batchSize ?? 128;
  const random = rng(o.seed ?? 1);
  const student = compile(graph);
  const teacher = compile(reference);
  const reports: FitReport[] = [];
  try {
    for (const layer of layers) {
      const node = getNode(graph, layer);
      const ref = getNode(reference, layer);
      if (node.op !== 'kronDense' && node.op !== 'kronConv2d') throw new KroneckerError(`fit: layer '${layer}' is not a Kronecker layer (op '${node.op}')`);
      const params = paramsOf(student, node);
      const refParams = paramsOf(teacher, ref);
      const trainable = Object.values(params).filter((v) => v.trainable);
      const optimizer = tf.train.adam(o.learningRate ?? 1e-3);
      let steps = 0;
      const batch = (idx: ArrayLike<number>) => {
        const xs = new Float32Array(idx.length * size);
        for (let k = 0; k < idx.length; k++) xs.set(data.images.subarray(idx[k] * size, (idx[k] + 1) * size), k * size);
        return tf.tensor(xs, [idx.length, ...example]);
      };
      // The error on the first 1024 examples, before and after.
      const probe = Int32Array.from({ length: Math.min(count, 1024) }, (_, i) => i);
      const error = () =>
        tf.tidy(() => {
          const x = batch(probe);
          const target = preActivation(ref, inputsAt(teacher, ref, x), refParams);
          const y = preActivation(node, inputsAt(student, node, x), params);
          return Math.sqrt(tf.sum(tf.squaredDifference(y, target)).dataSync()[0] / tf.sum(tf.square(target)).dataSync()[0]);
        });
      const before = error();
      for (let epoch = 0; epoch < (o.epochs ?? 1); epoch++) {
        const order = shuffle(
          Int32Array.from({ length: count }, (_, i) => i),
          random,
        );
        for (let start = 0; start < count; start += batchSize) {
          tf.tidy(() => {
            const x = batch(order.subarray(start, Math.min(start + batchSize, count)));
            const target = preActivation(ref, inputsAt(teacher, ref, x), refParams);
            const input = inputsAt(student, node, x);
            optimizer.minimize(() => tf.mean(tf.squaredDifference(preActivation(node, input, params), target)) as tf.Scalar, false, trainable);
          });
          steps++;
          if (steps % 20 === 0) await new Promise((r) => setTimeout(r, 0));
        }
      }
      optimizer.dispose();
      reports.push({ layer, outputErrorBefore: before, outputErrorAfter: error(), steps });
    }
    student.syncToGraph();
  } finally {
    student.dispose();
    teacher.dispose();
  }
  return reports;
}
