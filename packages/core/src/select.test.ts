import { describe, expect, it } from 'vitest';
import { lenet5, weightParams } from '@condense/ir';
import { globToRegExp, nodeRefs, resolveLayerMap, resolvePerLayer, selectLayers, type LayerRef } from './select.js';

const layer = (name: string, op: string, param?: string): LayerRef => ({ node: { name, op }, ...(param ? { param: { name: param } } : {}) });
const names = (refs: LayerRef[]) => refs.map((r) => r.param?.name ?? r.node.name);

describe('globToRegExp', () => {
  it('matches whole names; * is any run (slashes too), ? one character, the rest literal', () => {
    expect(globToRegExp('conv*').test('conv1')).toBe(true);
    expect(globToRegExp('conv*').test('xconv1')).toBe(false);
    expect(globToRegExp('*/kernel').test('block1/conv/kernel')).toBe(true);
    expect(globToRegExp('fc?').test('fc1')).toBe(true);
    expect(globToRegExp('fc?').test('fc10')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('fc1/(kernel)').test('fc1/(kernel)')).toBe(true);
  });
});

describe('selectLayers', () => {
  const g = lenet5(1);
  const kernels = weightParams(g).map(({ node, param }) => ({ node, param }));
  const pick = (include?: string[], exclude?: string[]) => names(selectLayers(kernels, { include, exclude }, 'test'));

  it('matches layer names, param names and globs, in candidate order', () => {
    expect(pick()).toEqual(['conv1/kernel', 'conv2/kernel', 'fc1/kernel', 'fc2/kernel']);
    expect(pick(['fc2', 'conv1'])).toEqual(['conv1/kernel', 'fc2/kernel']);
    expect(pick(['conv2/kernel'])).toEqual(['conv2/kernel']);
    expect(pick(['*1'])).toEqual(['conv1/kernel', 'fc1/kernel']);
  });

  it('falls back to op types when no name matches; op: matches op types only', () => {
    expect(pick(['dense'])).toEqual(['fc1/kernel', 'fc2/kernel']);
    expect(pick(['op:conv*'])).toEqual(['conv1/kernel', 'conv2/kernel']);
    // A Keras-style layer called 'dense': the name wins, op: still reaches the type.
    const keras = [layer('dense', 'dense'), layer('dense_1', 'dense'), layer('conv2d', 'conv2d')];
    expect(names(selectLayers(keras, { include: ['dense'] }, 'test'))).toEqual(['dense']);
    expect(names(selectLayers(keras, { include: ['op:dense'] }, 'test'))).toEqual(['dense', 'dense_1']);
  });

  it('exclude wins over include', () => {
    expect(pick(['conv*', 'fc1'], ['conv2'])).toEqual(['conv1/kernel', 'fc1/kernel']);
    expect(pick(undefined, ['dense'])).toEqual(['conv1/kernel', 'conv2/kernel']);
  });

  it('a pattern that matches nothing is an error naming the field, the pattern and the candidates', () => {
    expect(() => pick(['conv3'])).toThrow(
      /^test: include pattern 'conv3' matches no layer, param or op type \(candidates: conv1\/kernel \(conv2d conv1\), conv2\/kernel/,
    );
    expect(() => pick(undefined, ['fc*9'])).toThrow(/test: exclude pattern 'fc\*9' matches no/);
    // The exact name of a registered op type is vocabulary, not a typo: a recipe may name ops a model lacks.
    expect(pick(['depthwiseConv2d', 'fc1'])).toEqual(['fc1/kernel']);
  });
});

describe('resolveLayerMap', () => {
  const layers = nodeRefs([
    { name: 'conv1', op: 'conv2d' },
    { name: 'conv2', op: 'conv2d' },
    { name: 'fc1', op: 'dense' },
  ]);
  const values = (map: Record<string, number>) => Object.fromEntries([...resolveLayerMap(layers, map, 'test')].map(([r, v]) => [r.node.name, v]));

  it('gives each layer its most specific key: exact name, then glob, then op type', () => {
    expect(values({ conv1: 1, 'conv*': 2, conv2d: 3 })).toEqual({ conv1: 1, conv2: 2 });
    expect(values({ conv2d: 3, 'conv*': 2, conv1: 1 })).toEqual({ conv1: 1, conv2: 2 });
    expect(values({ dense: 5, conv2d: 8 })).toEqual({ conv1: 8, conv2: 8, fc1: 5 });
  });

  it('among equally specific keys the later wins; layers no key names are absent', () => {
    expect(values({ 'conv*': 1, '*2': 2 })).toEqual({ conv1: 1, conv2: 2 });
    expect(values({ '*2': 2, 'conv*': 1 })).toEqual({ conv1: 1, conv2: 1 });
  });

  it('an unmatched key is an error', () => {
    expect(() => values({ conv9: 1 })).toThrow(
      /test: layers key pattern 'conv9' matches no layer, param or op type \(candidates: conv1 \(conv2d\), conv2 \(conv2d\), fc1 \(dense\)\)/,
    );
  });

  it('resolvePerLayer takes one value for all, or a map', () => {
    expect([...resolvePerLayer(layers, 4, 'test', 'rank').values()]).toEqual([4, 4, 4]);
    expect([...resolvePerLayer(layers, { fc1: 2 }, 'test', 'rank').values()]).toEqual([2]);
    expect(resolvePerLayer(layers, undefined, 'test', 'rank').size).toBe(0);
    expect(() => resolvePerLayer(layers, { fc9: 2 }, 'test', 'rank')).toThrow(/rank key pattern 'fc9'/);
  });
});
