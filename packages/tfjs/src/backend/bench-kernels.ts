/**
 * Micro-benchmark of the training kernels in wasm-grads.ts: median time per
 * call of our wasm kernels, of the tfjs-backend-wasm kernels they replace
 * (when there is one) and of the cpu backend. Reports wall time and process
 * CPU time (steadier than wall time on a busy machine). The wasm and cpu
 * backends must already be initialized (see selectBackend).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
// tfjs-core's gradients are registered by tfjs-layers in Node (see exec/gradients.ts).
import '@tensorflow/tfjs-layers';
import { nativeWasmKernel } from './wasm-grads.js';

export interface KernelCall {
  /** Case label, e.g. 'lenet-conv2'. */
  name: string;
  kernel: string;
  /** Input shapes; inputs are random normals. */
  inputs: Record<string, number[]>;
  attrs: Record<string, unknown>;
}

export interface KernelTiming {
  name: string;
  kernel: string;
  /** 'wasm' (registered, i.e. ours where we have one), 'wasm-native' (tfjs's own) or 'cpu'. */
  impl: string;
  wallMs: number;
  cpuMs: number;
}

const conv = (name: string, x: number[], f: number[], strides: number, pad: string, out: number[]): KernelCall[] => [
  { name, kernel: 'Conv2DBackpropFilter', inputs: { x, dy: out }, attrs: { strides, pad, filterShape: f, dataFormat: 'NHWC' } },
  { name, kernel: 'Conv2DBackpropInput', inputs: { dy: out, filter: f }, attrs: { strides, pad, inputShape: x, dataFormat: 'NHWC' } },
];

/** LeNet-5 at batch 128 (both convs, both pools, the 800x500 dense layer), plus strided and depthwise convs. */
export const DEFAULT_CALLS: KernelCall[] = [
  ...conv('lenet-conv1', [128, 28, 28, 1], [5, 5, 1, 20], 1, 'valid', [128, 24, 24, 20]),
  ...conv('lenet-conv2', [128, 12, 12, 20], [5, 5, 20, 50], 1, 'valid', [128, 8, 8, 50]),
  ...conv('conv3x3-s2-same', [32, 32, 32, 16], [3, 3, 16, 32], 2, 'same', [32, 16, 16, 32]),
  {
    name: 'dw3x3', kernel: 'DepthwiseConv2dNativeBackpropFilter', inputs: { x: [32, 32, 32, 32], dy: [32, 32, 32, 32] },
    attrs: { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 32, 1] },
  },
  {
    name: 'dw3x3', kernel: 'DepthwiseConv2dNativeBackpropInput', inputs: { dy: [32, 32, 32, 32], filter: [3, 3, 32, 1] },
    attrs: { strides: 1, pad: 'same', dilations: 1, inputShape: [32, 32, 32, 32] },
  },
  {
    name: 'lenet-pool1', kernel: 'MaxPoolGrad', inputs: { dy: [128, 12, 12, 20], input: [128, 24, 24, 20], output: [128, 12, 12, 20] },
    attrs: { filterSize: 2, strides: 2, pad: 'valid' },
  },
  {
    name: 'lenet-dense1-dx', kernel: 'BatchMatMul', inputs: { a: [128, 500], b: [800, 500] },
    attrs: { transposeA: false, transposeB: true },
  },
  {
    name: 'lenet-dense1-dW', kernel: 'BatchMatMul', inputs: { a: [128, 800], b: [128, 500] },
    attrs: { transposeA: true, transposeB: false },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall and CPU time of `run` (which returns what it allocated, to be disposed). */
function timeIt(run: () => TensorInfo, dispose: (t: TensorInfo) => void, reps: number): { wallMs: number; cpuMs: number } {
  dispose(run()); // warm-up: operator creation, heap growth
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = run(); // wasm and cpu kernels are synchronous
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    dispose(out);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

/** Times each call with every available implementation on the given backends. */
export function benchKernels(calls: KernelCall[] = DEFAULT_CALLS, backends = ['wasm', 'cpu'], reps = 7): KernelTiming[] {
  const before = tf.getBackend();
  const rows: KernelTiming[] = [];
  try {
    for (const backend of backends) {
      tf.setBackend(backend);
      for (const call of calls) rows.push(...benchCall(call, backend, reps));
    }
  } finally {
    tf.setBackend(before);
  }
  return rows;
}

function benchCall(call: KernelCall, backend: string, reps: number): KernelTiming[] {
  const inputs: Record<string, Tensor> = {};
  for (const [k, shape] of Object.entries(call.inputs)) inputs[k] = tf.randomNormal(shape, 0, 1, 'float32', 42);
  const attrs = call.attrs as NamedAttrMap;
  const rows: KernelTiming[] = [];
  const viaEngine = () => tf.engine().runKernel(call.kernel, inputs, attrs) as Tensor;
  rows.push({ name: call.name, kernel: call.kernel, impl: backend, ...timeIt(viaEngine, (t) => (t as Tensor).dispose(), reps) });
  const native = backend === 'wasm' ? nativeWasmKernel(call.kernel) : undefined;
  if (native != null) {
    const b = tf.backend();
    const direct = () => native.kernelFunc({ inputs, attrs, backend: b }) as TensorInfo;
    rows.push({ name: call.name, kernel: call.kernel, impl: 'wasm-native', ...timeIt(direct, (t) => b.disposeData(t.dataId), reps) });
  }
  tf.dispose(Object.values(inputs));
  return rows;
}

/** One line per call, implementations as columns: "wall / cpu" ms. */
export function formatTimings(rows: KernelTiming[]): string {
  const impls = [...new Set(rows.map((r) => r.impl))];
  const keys = [...new Set(rows.map((r) => `${r.name} ${r.kernel}`))];
  const cell = (key: string, impl: string) => {
    const r = rows.find((x) => `${x.name} ${x.kernel}` === key && x.impl === impl);
    return (r ? `${r.wallMs.toFixed(1)} / ${r.cpuMs.toFixed(1)}` : '-').padStart(18);
  };
  const head = 'call (ms: wall / cpu)'.padEnd(58) + impls.map((i) => i.padStart(18)).join('');
  return [head, ...keys.map((k) => k.padEnd(58) + impls.map((i) => cell(k, i)).join(''))].join('\n');
}

// ---- LeNet-5 training step ---------------------------------------------------

export interface StepTiming { batch: number; wallMs: number; cpuMs: number; samplesPerSec: number }

/**
 * One LeNet-5 training step (conv 20@5x5, maxpool 2, conv 50@5x5, maxpool 2,
 * dense 500 relu, dense 10, softmax cross-entropy, Adam) on the current
 * backend, built from plain tfjs-core ops. Median over `steps` after warm-up.
 */
export function benchLeNetStep(batch = 128, steps = 20): StepTiming {
  const glorot = (shape: number[], fanIn: number, fanOut: number) => {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    return tf.variable(tf.randomUniform(shape, -lim, lim, 'float32', 1));
  };
  const p = {
    w1: glorot([5, 5, 1, 20], 25, 500), b1: tf.variable(tf.zeros([20])),
    w2: glorot([5, 5, 20, 50], 500, 1250), b2: tf.variable(tf.zeros([50])),
    w3: glorot([800, 500], 800, 500), b3: tf.variable(tf.zeros([500])),
    w4: glorot([500, 10], 500, 10), b4: tf.variable(tf.zeros([10])),
  };
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 3) as tf.Tensor1D, 10);
  const model = () => {
    const conv = (t: tf.Tensor4D, w: tf.Variable, b: tf.Variable) =>
      tf.maxPool(tf.add(tf.conv2d(t, w as tf.Tensor4D, 1, 'valid'), b) as tf.Tensor4D, 2, 2, 'valid');
    const h = conv(conv(x, p.w1, p.b1), p.w2, p.b2);
    const d = tf.relu(tf.add(tf.matMul(tf.reshape(h, [batch, 800]), p.w3 as tf.Tensor2D), p.b3));
    return tf.add(tf.matMul(d, p.w4 as tf.Tensor2D), p.b4);
  };
  const opt = tf.train.adam(1e-3);
  const step = () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model()) as tf.Scalar, true);
    loss?.dataSync();
    loss?.dispose();
  };
  for (let i = 0; i < 3; i++) step();
  const { wallMs, cpuMs } = timeIt(() => { step(); return x; }, () => undefined, steps);
  opt.dispose();
  tf.dispose([x, y, ...Object.values(p)]);
  return { batch, wallMs, cpuMs, samplesPerSec: (batch / wallMs) * 1000 };
}
