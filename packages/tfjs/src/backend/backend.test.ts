import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers gradients only via tfjs-layers in Node (see exec/gradients.ts).
import '@tensorflow/tfjs-layers';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_ENV, THREADS_ENV, backendName, describeBackend, selectBackend } from './backend.js';

const saved = { backend: process.env[BACKEND_ENV], threads: process.env[THREADS_ENV] };
afterEach(() => {
  restore(BACKEND_ENV, saved.backend);
  restore(THREADS_ENV, saved.threads);
});

function restore(key: string, value: string | undefined): void {
  if (value == null) delete process.env[key];
  else process.env[key] = value;
}

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  it('selects cpu on request', async () => {
    delete process.env[BACKEND_ENV];
    const s = await selectBackend('cpu');
    expect(s).toEqual({ name: 'cpu', reason: "requested by selectBackend('cpu')" });
    expect(backendName()).toBe('cpu');
    expect(describeBackend()).toMatch(/^cpu/);
  });

  it('selects wasm with SIMD (and threads when available), and can train convs on it', async () => {
    delete process.env[BACKEND_ENV];
    const s = await selectBackend('wasm');
    expect(s.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(describeBackend()).toMatch(/^wasm \(SIMD, \d+ threads?\)$/);
    // Conv2DBackpropFilter is missing from tfjs-backend-wasm itself.
    const dW = tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 5, 5, 2]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')))(tf.ones([3, 3, 2, 4]));
    expect(Array.from(dW.dataSync())).toEqual(new Array(72).fill(9));
  });

  it('is idempotent: repeated and concurrent calls agree', async () => {
    delete process.env[BACKEND_ENV];
    const [a, b] = await Promise.all([selectBackend('wasm'), selectBackend('wasm')]);
    expect(a).toBe(b);
    expect(await selectBackend('wasm')).toBe(a);
    await selectBackend('cpu');
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });

  it('auto-selects tfjs-node when installed and loadable, else wasm', async () => {
    delete process.env[BACKEND_ENV];
    const s = await selectBackend();
    if (s.name === 'node') {
      expect(s.reason).toBe('auto: @tensorflow/tfjs-node is installed');
    } else {
      expect(s.name).toBe('wasm');
      const why = tfjsNodeInstalled() ? /^auto: @tensorflow\/tfjs-node failed to load/ : /^auto: @tensorflow\/tfjs-node is not installed$/;
      expect(s.reason).toMatch(why);
    }
  });

  it(`follows ${BACKEND_ENV}, but an explicit argument wins`, async () => {
    process.env[BACKEND_ENV] = 'cpu';
    expect(await selectBackend()).toEqual({ name: 'cpu', reason: `requested by ${BACKEND_ENV}=cpu` });
    expect((await selectBackend('wasm')).name).toBe('wasm');
    process.env[BACKEND_ENV] = ' WASM ';
    expect((await selectBackend()).name).toBe('wasm');
  });

  it('rejects invalid values, naming the source and the allowed values', async () => {
    process.env[BACKEND_ENV] = 'gpu';
    await expect(selectBackend()).rejects.toThrow(`Invalid backend 'gpu' in ${BACKEND_ENV}=gpu: expected one of node, wasm, cpu.`);
    delete process.env[BACKEND_ENV];
    await expect(selectBackend('webgl' as never)).rejects.toThrow(/selectBackend\(preferred\).*node, wasm, cpu/);
    process.env[THREADS_ENV] = 'many';
    await expect(selectBackend('cpu')).rejects.toThrow(`Invalid ${THREADS_ENV}=many: expected an integer from 1 to 8.`);
  });

  it.skipIf(tfjsNodeInstalled())('explains how to install tfjs-node when asked for it', async () => {
    await expect(selectBackend('node')).rejects.toThrow(
      /Backend 'node' was requested by selectBackend\('node'\) but @tensorflow\/tfjs-node .*npm install @tensorflow\/tfjs-node/,
    );
    process.env[BACKEND_ENV] = 'node';
    await expect(selectBackend()).rejects.toThrow(/requested by CONDENSE_BACKEND=node/);
    // A failed request leaves a working backend behind.
    delete process.env[BACKEND_ENV];
    expect((await selectBackend('cpu')).name).toBe('cpu');
  });
});
