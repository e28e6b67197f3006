import { lenet5 } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { globToRegExp, selectParams } from './select.js';

describe('globToRegExp', () => {
  it('matches whole names with * and ?, everything else literal', () => {
    expect(globToRegExp('conv*').test('conv1')).toBe(true);
    expect(globToRegExp('conv*').test('xconv1')).toBe(false);
    expect(globToRegExp('fc?').test('fc1')).toBe(true);
    expect(globToRegExp('fc?').test('fc10')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('fc1/(kernel)').test('fc1/(kernel)')).toBe(true);
  });
});

describe('selectParams', () => {
  const g = lenet5(1);
  const names = (layers: Parameters<typeof selectParams>[1]['layers'], kinds = ['weight'] as const) =>
    selectParams(g, { layers, kinds: [...kinds], caller: 'test' }).map((u) => u.param.name);

  it('defaults to every param of the kinds, in graph order', () => {
    expect(names(undefined)).toEqual(['conv1/kernel', 'conv2/kernel', 'fc1/kernel', 'fc2/kernel']);
  });

  it('matches layer names, param names, op types, globs and predicates', () => {
    expect(names('fc2')).toEqual(['fc2/kernel']);
    expect(names('conv1/kernel')).toEqual(['conv1/kernel']);
    expect(names('dense')).toEqual(['fc1/kernel', 'fc2/kernel']);
    expect(names(['conv?', 'fc1'])).toEqual(['conv1/kernel', 'conv2/kernel', 'fc1/kernel']);
    expect(names((u) => u.node.op === 'conv2d')).toEqual(['conv1/kernel', 'conv2/kernel']);
  });

  it('rejects an unknown kind', () => {
    expect(() => selectParams(g, { kinds: ['kernel' as 'weight'], caller: 'test' })).toThrow(/'kinds' entry 'kernel' is not a param kind/);
  });

  it('throws on a pattern that matches nothing, listing the candidates', () => {
    expect(() => names('conv3')).toThrow(/test: 'layers' pattern 'conv3' matches no .*conv1\/kernel \[conv2d conv1\]/);
  });
});
