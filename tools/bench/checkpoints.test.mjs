// Checkpoints round-trip through their files, sidecar included; a missing one names the command
// that makes it. Written under bench-out/quick/checkpoints/ with a network name of its own.
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '@condense/ir';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDir, listCheckpoints, loadCheckpoint, SIDECAR, writeCheckpoint } from './checkpoints.mjs';

const network = 'checkpoint-test-net';
afterAll(() => rm(checkpointDir(network, 7, { quick: true }), { recursive: true, force: true }));

describe('checkpoints', () => {
  it('write then load: the same weights, the sidecar with what made it', async () => {
    const g = new GraphBuilder(network, [4, 4, 1], 3)
      .conv2d(2, 3, { name: 'c', bias: false })
      .batchNorm({ name: 'c_bn' })
      .flatten()
      .dense(3, { name: 'fc', activation: 'softmax' })
      .build();
    const meta = { network, seed: 7, command: 'npm run bench -- zoo-train-x-seed7 --quick', commit: 'abc', split: 'last 5', test_accuracy: 0.5 };
    const { dir, bytes } = await writeCheckpoint(g, meta, { quick: true });
    expect(dir).toBe(checkpointDir(network, 7, { quick: true }));
    expect(dir).toMatch(/bench-out\/quick\/checkpoints\/checkpoint-test-net-seed7$/);
    expect(existsSync(join(dir, SIDECAR))).toBe(true);
    const back = await loadCheckpoint(network, 7, { quick: true });
    expect(back.meta).toMatchObject({ ...meta, bytes });
    expect(back.meta.files).toContain('model.json');
    // by node and role (the importer names batch-norm params as Keras does: moving_mean)
    for (const node of g.nodes) {
      const loaded = back.graph.nodes.find((n) => n.name === node.name);
      for (const [role, name] of Object.entries(node.params))
        expect(Array.from(back.graph.params.get(loaded.params[role]).data), `${node.name}/${role}`).toEqual(Array.from(g.params.get(name).data));
    }
    expect((await listCheckpoints({ quick: true }))[network].map((m) => m.seed)).toEqual([7]);
  });

  it('a missing checkpoint names the command that makes it', async () => {
    await expect(loadCheckpoint('resnet20', 99)).rejects.toThrow(
      /no checkpoint .*resnet20-seed99 \(checkpoint\.json missing\): make it with npm run bench -- zoo-train-resnet20-seed99$/,
    );
  });
});
