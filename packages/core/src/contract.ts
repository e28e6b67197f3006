import type { Capability, Plugin } from './plugin.js';
import type { PipelineContext } from './context.js';

/** A pipeline that cannot work as ordered; the message names both stages involved. */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

const label = (p: Plugin, i: number) => `stage ${i + 1} (${p.name})`;

/**
 * Walk the stages in order, tracking which stage provided each capability, and refuse an
 * impossible order before any work starts.
 */
export function checkContracts(stages: Plugin[], ctx: PipelineContext = {}, initial: Capability[] = []): void {
  const provider = new Map<Capability, number>(initial.map((c) => [c, -1]));
  const who = (c: Capability) => {
    const i = provider.get(c) as number;
    return i < 0 ? 'the input model' : label(stages[i], i);
  };
  stages.forEach((stage, i) => {
    const prev = stages.findIndex((s, j) => j < i && s.contract.final);
    if (prev >= 0) throw new ContractError(`${label(stage, i)} comes after ${label(stages[prev], prev)}, which must be the last stage`);
    for (const c of stage.contract.conflicts ?? []) {
      if (provider.has(c)) throw new ContractError(`${label(stage, i)} cannot run after ${who(c)}: it would drop the ${c} that stage left on the graph`);
    }
    for (const c of stage.contract.needs ?? []) {
      if (!provider.has(c)) throw new ContractError(`${label(stage, i)} needs ${c} on the graph, and no earlier stage provides it`);
    }
    for (const r of stage.contract.requires ?? []) {
      if ((r === 'labels' || r === 'calibration') && !ctx.data?.train && !ctx.data?.calibration) {
        throw new ContractError(`${label(stage, i)} needs ${r === 'labels' ? 'labelled training' : 'calibration'} data, and the pipeline was given none`);
      }
    }
    for (const c of stage.contract.invalidates ?? []) provider.delete(c);
    for (const c of stage.contract.provides ?? []) provider.set(c, i);
  });
}
