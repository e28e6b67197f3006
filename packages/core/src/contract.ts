import type { Graph } from '@condense/ir';
import type { Capability, Plugin } from './plugin.js';
import type { PipelineContext } from './context.js';
import { RUNTIME_HINT, type RuntimeTask } from './runtime.js';

/** A pipeline that cannot work as ordered; the message names both stages involved. */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

const label = (p: Plugin, i: number) => `stage ${i + 1} (${p.name})`;

const TASK_WORDS: Record<RuntimeTask, string> = { train: 'trains the model', evaluate: 'evaluates the model', forward: 'runs the model layer by layer' };

/** Whether the stage trains (and so consumes the training contributions before it). */
export const trains = (p: Plugin): boolean => p.contract.runtime?.includes('train') ?? false;

/** Whether the pipeline measures the model after every stage (and so needs a runtime). */
export const measuresEachStage = (ctx: PipelineContext): boolean => ctx.evaluateEachStage ?? ctx.data?.test !== undefined;

/**
 * The compression state a model already carries (masks, codebooks, affine quantization, float16
 * marks on its params), as capabilities the input provides. How its file stored a weight
 * (`Param.stored`: uint8, float16...) is not among them: that is where the values came from.
 */
export function graphCapabilities(graph: Graph): Capability[] {
  const found = new Set<Capability>();
  for (const p of graph.params.values()) {
    if (p.mask) found.add('mask');
    if (p.codebook) found.add('codebook');
    if (p.quant) found.add('quant');
    if (p.float16) found.add('float16');
  }
  return [...found];
}

/**
 * Refuse, before any work, a pipeline that cannot run on this model: its contracts with the
 * state the model carries as the start (`graphCapabilities`), then each stage's own `check` of
 * the input model.
 */
export function checkPipeline(stages: Plugin[], ctx: PipelineContext, graph: Graph): void {
  checkContracts(stages, ctx, graphCapabilities(graph));
  stages.forEach((stage, i) => {
    try {
      stage.check?.(graph);
    } catch (e) {
      throw new ContractError(`${label(stage, i)} cannot run on this model: ${(e as Error).message}`);
    }
  });
}

/**
 * Walk the stages in order, tracking which stage provided each capability, and refuse an
 * impossible order before any work starts: state conflicts, missing data, runtime work without a
 * runtime, training contributions that no later stage trains with. `initial`: state the input
 * model carries already.
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
      if (provider.get(c) === -1)
        throw new ContractError(`${label(stage, i)} cannot run on this model: its params carry ${c} annotations, which this stage would drop`);
      if (provider.has(c)) throw new ContractError(`${label(stage, i)} cannot run after ${who(c)}: it would drop the ${c} that stage left on the graph`);
    }
    for (const c of stage.contract.needs ?? []) {
      if (!provider.has(c)) throw new ContractError(`${label(stage, i)} needs ${c} on the graph, and no earlier stage provides it`);
    }
    for (const r of stage.contract.requires ?? []) {
      if ((r === 'labels' || r === 'calibration') && !ctx.data?.train && !ctx.data?.calibration) {
        throw new ContractError(`${label(stage, i)} needs ${r === 'labels' ? 'training' : 'calibration'} data, and the pipeline was given none`);
      }
    }
    for (const task of stage.contract.runtime ?? []) {
      if (!ctx.runtime) throw new ContractError(`${label(stage, i)} ${TASK_WORDS[task]}, and the pipeline was given no runtime: ${RUNTIME_HINT}`);
      if (task === 'forward' && !ctx.runtime.forward)
        throw new ContractError(`${label(stage, i)} ${TASK_WORDS[task]}, and runtime '${ctx.runtime.name}' has no forward()`);
    }
    if (stage.training && !stages.some((s, j) => j > i && trains(s))) {
      throw new ContractError(`${label(stage, i)} adds training contributions, and no later stage trains: add a finetune stage after it`);
    }
    for (const c of stage.contract.invalidates ?? []) provider.delete(c);
    for (const c of stage.contract.provides ?? []) provider.set(c, i);
  });
  if (measuresEachStage(ctx) && !ctx.runtime) {
    throw new ContractError(
      `the pipeline evaluates the model after every stage (test data was given), and was given no runtime: ${RUNTIME_HINT}, or set evaluateEachStage: false`,
    );
  }
}
