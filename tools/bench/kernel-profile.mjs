// Per-kernel time of TF.js work on one backend: every registered kernel is wrapped with a timer,
// kernels a composed kernel runs inside itself count as its children (self time = own time minus
// children), and the time of the engine's 'forward' and 'backward' scopes (tf.variableGrads) is
// taken so that what runs outside any kernel (op dispatch, the tape, gradient functions' JS) shows
// as the rest of each phase. Synchronous backends only (wasm, cpu): a kernel's work ends when it returns.
import * as tf from '@tensorflow/tfjs-core';

/** Kernel families for the summary: what the time is spent on. */
const FAMILIES = [
  ['conv forward', /^(Conv2D|FusedConv2D|DepthwiseConv2dNative|FusedDepthwiseConv2D)$/],
  ['conv backprop', /^(Conv2DBackprop(Input|Filter)|DepthwiseConv2dNativeBackprop(Input|Filter))$/],
  ['matmul', /^(BatchMatMul|_FusedMatMul)$/],
  [
    'copies and layout',
    /^(Identity|Transpose|Pad|PadV2|Slice|StridedSlice|Concat|Reverse|Tile|ScatterNd|GatherV2|GatherNd|Cast|Reshape|MirrorPad|Fill|ZerosLike|OnesLike)$/,
  ],
  ['batch norm', /^FusedBatchNorm$/],
  ['pooling', /^(MaxPool|AvgPool|MaxPoolGrad|AvgPoolGrad)$/],
  ['reductions', /^(Sum|Mean|Max|Min|Prod|ArgMax|ArgMin|All|Any)$/],
];
const familyOf = (kernel) => FAMILIES.find(([, re]) => re.test(kernel))?.[0] ?? 'elementwise and other';

/** Which training phase a kernel runs in, from the engine's scope stack. */
function phaseOf(engine) {
  const names = engine.state.scopeStack.map((s) => s.name);
  if (names.includes('backward')) return 'backward';
  if (names.includes('forward')) return 'forward';
  return 'optimizer and other';
}

/**
 * Wrap every kernel of `backendName` with a timer and hook the engine's forward/backward scopes.
 * Returns { reset(), report(), uninstall() }; report() gives rows per (phase, kernel[, input shapes]) and per
 * (phase, family), with self and inclusive milliseconds, and the phases' wall times.
 */
export function installKernelProfiler(backendName, { shapes = false } = {}) {
  const engine = tf.engine();
  const originals = tf.getKernelsForBackend(backendName);
  let rows = new Map();
  let phases = new Map();
  const stack = []; // children time of each open kernel
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        stack.push(0);
        const t = performance.now();
        try {
          return k.kernelFunc(args);
        } finally {
          const total = performance.now() - t;
          const children = stack.pop();
          if (stack.length) stack[stack.length - 1] += total;
          const phase = phaseOf(engine);
          const shape = shapes
            ? Object.values(args.inputs)
                .map((x) => `[${x?.shape?.join(',') ?? ''}]`)
                .join(' ')
            : '';
          const key = `${phase}\0${k.kernelName}\0${shape}`;
          const r =
            rows.get(key) ??
            rows
              .set(key, {
                phase,
                kernel: k.kernelName,
                ...(shapes ? { shapes: shape } : {}),
                family: familyOf(k.kernelName),
                calls: 0,
                selfMs: 0,
                totalMs: 0,
                nested: 0,
              })
              .get(key);
          r.calls++;
          r.selfMs += total - children;
          r.totalMs += total;
          if (stack.length) r.nested++;
        }
      },
    });
  }
  // Wall time of the engine's 'forward' and 'backward' tidies (outermost only).
  const { startScope, endScope } = engine;
  const open = [];
  engine.startScope = function (name) {
    open.push({ name, t: performance.now() });
    return startScope.call(this, name);
  };
  engine.endScope = function (result) {
    const s = open.pop();
    if (s && (s.name === 'forward' || s.name === 'backward') && !open.some((o) => o.name === s.name)) {
      phases.set(s.name, (phases.get(s.name) ?? 0) + performance.now() - s.t);
    }
    return endScope.call(this, result);
  };
  return {
    reset() {
      rows = new Map();
      phases = new Map();
    },
    report() {
      const kernels = [...rows.values()].sort((a, b) => b.selfMs - a.selfMs);
      const families = new Map();
      for (const r of kernels) {
        const key = `${r.phase}\0${r.family}`;
        const f = families.get(key) ?? families.set(key, { phase: r.phase, family: r.family, calls: 0, selfMs: 0 }).get(key);
        f.calls += r.calls;
        f.selfMs += r.selfMs;
      }
      const selfIn = (phase) => kernels.filter((r) => r.phase === phase).reduce((a, r) => a + r.selfMs, 0);
      const phaseRows = ['forward', 'backward'].map((phase) => ({ phase, wallMs: phases.get(phase) ?? 0, kernelMs: selfIn(phase) }));
      return {
        kernels,
        families: [...families.values()].sort((a, b) => b.selfMs - a.selfMs),
        phases: phaseRows,
        optimizerKernelMs: selfIn('optimizer and other'),
      };
    },
    uninstall() {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backendName);
        tf.registerKernel(k);
      }
      delete engine.startScope;
      delete engine.endScope;
    },
  };
}
