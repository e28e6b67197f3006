import { describe, expect, it } from 'vitest';
import { dependencyOrder } from './order.js';

type Item = { name: string; reads: string[] };
const order = (items: Item[], skip: (reader: Item, dep: Item) => boolean = () => false) => {
  const byName = new Map(items.map((i) => [i.name, i]));
  return dependencyOrder(items, {
    key: (i) => i.name,
    reads: (i) => i.reads.map((r) => byName.get(r) as Item).filter((d) => !skip(i, d)),
    cycle: (path, again) => {
      throw new Error(`cycle ${[...path.map((p) => p.name), again.name].join(' -> ')}`);
    },
  }).map((i) => i.name);
};

describe('dependencyOrder', () => {
  it('puts every item after what it reads, keeping an ordered list as it is', () => {
    expect(
      order([
        { name: 'c', reads: ['b', 'a'] },
        { name: 'a', reads: [] },
        { name: 'b', reads: ['a'] },
      ]),
    ).toEqual(['a', 'b', 'c']);
    expect(
      order([
        { name: 'a', reads: [] },
        { name: 'b', reads: ['a'] },
        { name: 'c', reads: ['a', 'b'] },
      ]),
    ).toEqual(['a', 'b', 'c']);
  });

  it('reports a cycle with the path, and leaves out the edges the caller does not count', () => {
    const loop = [
      { name: 'merge', reads: ['enter', 'next'] },
      { name: 'enter', reads: [] },
      { name: 'next', reads: ['merge'] },
    ];
    expect(() => order(loop)).toThrow('cycle merge -> next -> merge');
    expect(order(loop, (reader, dep) => reader.name === 'merge' && dep.name === 'next')).toEqual(['enter', 'merge', 'next']);
  });

  it('orders a chain deeper than the call stack', () => {
    const n = 200_000;
    const chain = Array.from({ length: n }, (_, i) => ({ name: `n${n - 1 - i}`, reads: i === n - 1 ? [] : [`n${n - 2 - i}`] }));
    const out = order(chain);
    expect(out[0]).toBe('n0');
    expect(out.at(-1)).toBe(`n${n - 1}`);
  });
});
