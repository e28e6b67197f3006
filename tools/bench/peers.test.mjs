// The peer client against a stand-in peer written in JS (tests never need Python): requests are
// answered by id, a peer's error comes back naming it, a dead peer fails what was pending, and a
// missing interpreter makes the peer `skipped` with how to install it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeer } from './peers.mjs';

const STAND_IN = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line);
  const reply = (body) => process.stdout.write(JSON.stringify({ id: req.id, ...body }) + '\\n');
  if (req.cmd === 'info') return reply({ ok: true, result: { framework: 'stand-in', version: 'Stand-in 1.0', threads: Number(process.argv[2]) } });
  if (req.cmd === 'train') return setTimeout(() => reply({ ok: true, result: { samples_per_s: req.batch * req.steps, seconds: 1 } }), req.steps);
  if (req.cmd === 'latency') return reply({ ok: true, result: { times_ms: Array.from({ length: req.calls }, (_, i) => i + req.batch) } });
  if (req.cmd === 'exit') process.exit(3);
  process.stdout.write('a framework banner on stdout\\n');
  reply({ ok: false, error: 'KeyError: ' + req.cmd });
});
`;

let dir;
let script;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'condense-peers-'));
  script = join(dir, 'stand-in.cjs');
  await writeFile(script, STAND_IN);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('startPeer', () => {
  it('talks to a running peer: info, interleaved requests answered by id, errors named, exit reported', async () => {
    const peer = await startPeer('tf', { threads: 2, interpreters: ['/nonexistent/python', process.execPath], script });
    expect(peer.skipped).toBeUndefined();
    expect(peer.info).toEqual({ framework: 'stand-in', version: 'Stand-in 1.0', threads: 2 });
    expect(peer.python).toBe(process.execPath);
    // the slower request is answered last; each promise still gets its own answer
    const [slow, fast] = await Promise.all([peer.trainRate('resnet20', 128, 30), peer.trainRate('lenet5', 128, 1)]);
    expect([slow, fast]).toEqual([128 * 30, 128]);
    expect(await peer.latency('resnet20', 32, 3)).toEqual([32, 33, 34]);
    await expect(peer.request('nonsense')).rejects.toThrow(/tf peer: KeyError: nonsense/);
    await expect(peer.request('exit')).rejects.toThrow(/tf peer \(.*\) exited with code 3/);
    await expect(peer.request('info')).rejects.toThrow(/exited with code 3/);
    peer.close();
  });

  it('is skipped, with the install command, when no interpreter runs it', async () => {
    const r = await startPeer('torch', { interpreters: ['/nonexistent/python3'], script });
    expect(r.skipped).toMatch(/no torch peer .*install: apt-get install -y python3-torch/);
    const broken = await startPeer('tf', { interpreters: [process.execPath], script: join(dir, 'missing.cjs') });
    expect(broken.skipped).toMatch(/no tf peer \(.*exited with code 1.*\); install: python3\.11 -m venv/);
  });
});
