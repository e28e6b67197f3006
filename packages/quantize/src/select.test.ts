import { lenet5 } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { selectParams, type ParamKind } from './select.js';

describe('selectParams', () => {
  const g = lenet5(1);
  const names = (include: Parameters<typeof selectParams>[1]['include'], kinds: ParamKind[] = ['weight'], exclude?: string[]) =>
    selectParams(g, { include, exclude, kinds: [...kinds], caller: 'test' }).map((u) => u.param.name);

  it('defaults to every param of the kinds, in graph order', () => {
    expect(names(undefined)).toEqual(['conv1/kernel', 'conv2/kernel', 'fc1/kernel', 'fc2/kernel']);
  });

  it('matches layer names, param names, op types, globs and predicates', () => {
    expect(names('fc2')).toEqual(['fc2/kernel']);
    expect(names('conv1/kernel')).toEqual(['conv1/kernel']);
    expect(names('dense')).toEqual(['fc1/kernel', 'fc2/kernel']);
    expect(names(['conv?', 'fc1'])).toEqual(['conv1/kernel', 'conv2/kernel', 'fc1/kernel']);
    expect(names((u) => u.node.op === 'conv2d')).toEqual(['conv1/kernel', 'conv2/kernel']);
    expect(names(undefined, ['weight', 'bias'], ['conv*', '*/bias'])).toEqual(['fc1/kernel', 'fc2/kernel']);
  });

  it("takes 'layers', the deprecated name of include, but not both", () => {
    expect(selectParams(g, { layers: 'fc2', kinds: ['weight'], caller: 'test' }).map((u) => u.param.name)).toEqual(['fc2/kernel']);
    expect(() => selectParams(g, { layers: 'fc2', include: 'fc1', kinds: ['weight'], caller: 'test' })).toThrow(/test: give 'include'/);
  });

  it('rejects an unknown kind', () => {
    expect(() => selectParams(g, { kinds: ['kernel' as 'weight'], caller: 'test' })).toThrow(/'kinds' entry 'kernel' is not a param kind/);
  });

  it('throws on a pattern that matches nothing, listing the candidates', () => {
    expect(() => names('conv3')).toThrow(/test: include pattern 'conv3' matches no layer, param or op type \(candidates: conv1\/kernel \(conv2d conv1\)/);
  });
});
