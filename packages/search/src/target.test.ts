import { describe, expect, it } from 'vitest';
import { parseMaxDrop, parseTarget, targetLimit } from './target.js';

describe('parseTarget', () => {
  it('reads factors and absolute bounds with units', () => {
    expect(parseTarget('size=20x')).toEqual({ text: 'size=20x', metric: 'bytes', factor: 20 });
    expect(parseTarget('bytes=200kB').limit).toBe(200_000);
    expect(parseTarget('bytes=1.5MiB').limit).toBe(1.5 * 1024 * 1024);
    expect(parseTarget('macs=3x')).toMatchObject({ metric: 'macs', factor: 3 });
    expect(parseTarget('macs=1.5M').limit).toBe(1.5e6);
    expect(parseTarget('params=100k')).toMatchObject({ metric: 'nonzero', limit: 100_000 });
    expect(parseTarget('latency=2x')).toMatchObject({ metric: 'latency', factor: 2 });
    expect(parseTarget('latency=5ms').limit).toBe(5);
    expect(targetLimit(parseTarget('size=40x'), 1_000_000)).toBe(25_000);
    expect(targetLimit(parseTarget('bytes=200kB'), 1_000_000)).toBe(200_000);
  });

  it('names what is wrong in one line', () => {
    expect(() => parseTarget('size')).toThrow("--target: 'size' is not KIND=VALUE");
    expect(() => parseTarget('flops=3x')).toThrow("--target: unknown target 'flops' (expected one of size, bytes, macs, params, latency)");
    expect(() => parseTarget('size=20')).toThrow("--target: 'size=20': no unit for size (write e.g. size=20x or 200kB)");
    expect(() => parseTarget('bytes=2parsecs')).toThrow("unknown unit 'parsecs'");
    expect(() => parseTarget('size=0.5x')).toThrow('a factor must be more than 1x');
  });
});

describe('parseMaxDrop', () => {
  it('takes points of accuracy and gives a fraction', () => {
    expect(parseMaxDrop('1')).toBe(0.01);
    expect(parseMaxDrop('0.5')).toBe(0.005);
    expect(parseMaxDrop(0)).toBe(0);
    expect(() => parseMaxDrop('-1')).toThrow("--max-drop: expected points of accuracy in [0, 100) (e.g. 0.5), got '-1'");
    expect(() => parseMaxDrop('lots')).toThrow('--max-drop');
  });
});
