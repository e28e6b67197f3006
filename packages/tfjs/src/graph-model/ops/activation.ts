/** Relu, Relu6, Elu, Selu, Sigmoid, Tanh, Softplus, LeakyRelu, Softmax (last axis): activation; Prelu: prelu. */
import { attrFloat, setFloat } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter } from '../mapping.js';
import { irActivation, needsParam, nodeFor, tfActivation } from './common.js';
import { writeConv } from './conv.js';
import { fusedProducer } from './fusion.js';
import { writeDense } from './matmul.js';

const ELEMENTWISE = ['Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'Softplus', 'LeakyRelu'];

registerGraphImporter(ELEMENTWISE, (ctx) => {
  const fn = irActivation(ctx.node.op) as string;
  // TF's LeakyRelu defaults alpha to 0.2 (Keras' LeakyReLU layer to 0.3, the IR's default).
  const alpha = ctx.node.op === 'LeakyRelu' ? { alpha: attrFloat(ctx.node, 'alpha') ?? 0.2 } : {};
  return [{ op: 'activation', inputs: [0], attrs: { fn, ...alpha } }];
});

// TF's Softmax normalises the last axis, as the IR's softmax does.
registerGraphImporter(['Softmax'], () => [{ op: 'activation', inputs: [0], attrs: { fn: 'softmax' } }]);

registerGraphExporter(['activation'], (node, ctx) => {
  const fn = node.attrs.fn as string;
  const op = (fn === 'softmax' ? 'Softmax' : fn === 'linear' ? 'Identity' : tfActivation(fn)) ?? ctx.fail(node, `activation '${fn}' has no TF op`);
  const t = nodeFor(node, ctx, [op]);
  t.input = [ctx.tensor(node.inputs[0])];
  if (fn === 'leakyRelu') setFloat(t, 'alpha', (node.attrs.alpha as number | undefined) ?? 0.2);
  return [t];
});

registerGraphImporter(['Prelu'], (ctx) => needsParam(ctx.inputs[1], 'alpha') ?? [{ op: 'prelu', inputs: [0], params: { alpha: 1 } }]);

registerGraphExporter(['prelu'], (node, ctx) => {
  const producer = fusedProducer(node, ctx);
  if (producer?.op === 'dense') return [writeDense(producer, ctx, node)];
  if (producer) return [writeConv(producer, ctx, node)];
  const t = nodeFor(node, ctx, ['Prelu']);
  t.input = [ctx.tensor(node.inputs[0]), ctx.param(node, 'alpha')];
  return [t];
});
