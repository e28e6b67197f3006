import { readFile } from 'node:fs/promises';
import { definePlugin, Type, type StageContext } from '@condense/core';
import { deserializeGraph, type Graph } from '@condense/ir';
import { loadModel, type TrainingContribution } from '@condense/tfjs';
import { hintContribution, kdContribution, nstContribution } from './contributions.js';

const teacherOption = Type.Optional(
  Type.String({ minLength: 1, description: 'teacher model: a model.json (or its directory) or a .cir file; default: the model before the pipeline' }),
);
const scopeOption = Type.Union([Type.Literal('next'), Type.Literal('all')], {
  default: 'next',
  description:
    "fine-tunes distilled: up to and including the next stage that trains ('next': a finetune stage, or a stage that fine-tunes inside, such as iterative pruning) or every later one ('all')",
});
const tapOptions = {
  teacherTap: Type.String({ minLength: 1, description: 'teacher node whose output is the target' }),
  studentTap: Type.String({ minLength: 1, description: 'student node whose output is matched to it' }),
};

/** Read a teacher named by a recipe, through the bridge (model.json) or the IR (.cir). */
export async function loadTeacher(path: string): Promise<Graph> {
  if (path.endsWith('.cir')) return deserializeGraph(new Uint8Array(await readFile(path)), path);
  return loadModel(path);
}

/** The teacher of a stage: loaded from `path` in apply, else the pipeline's (the model before compression). */
function teacherSlot(path: string | undefined) {
  let loaded: Graph | undefined;
  return {
    async load(ctx: StageContext) {
      if (path === undefined) return { notes: [`teacher: '${ctx.teacher.name}' (the pipeline's teacher)`] };
      loaded = await loadTeacher(path);
      return { notes: [`teacher: '${loaded.name}' from ${path}`] };
    },
    get: (ctx: StageContext): Graph => loaded ?? ctx.teacher,
  };
}

/** The options every distillation plugin has: the teacher and which fine-tunes it distils. */
const common = { teacher: teacherOption, scope: scopeOption };

/** create() of a plugin that loads its teacher in apply and adds `contribution` to the fine-tunes in its scope. */
function withTeacher<O extends { teacher?: string; scope: 'next' | 'all' }>(
  contribution: (teacher: Graph, student: Graph, o: O, ctx: StageContext) => TrainingContribution,
) {
  return (o: O) => {
    const teacher = teacherSlot(o.teacher);
    return {
      contract: { requires: ['teacher' as const] },
      trainingScope: o.scope,
      apply: (_graph: Graph, ctx: StageContext) => teacher.load(ctx),
      training: (graph: Graph, ctx: StageContext) => [contribution(teacher.get(ctx), graph, o, ctx)],
    };
  };
}

export const distillKd = definePlugin({
  name: 'distill.kd',
  description:
    'Hinton knowledge distillation (2015) in the following fine-tuning: loss = alpha T^2 KL(teacher_T || student_T) + (1 - alpha) cross-entropy, the teacher frozen and its logits cached per example.',
  schema: Type.Object(
    {
      ...common,
      temperature: Type.Number({ exclusiveMinimum: 0, default: 4, description: 'softmax temperature T' }),
      alpha: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'weight of the soft loss (times T^2); the hard cross-entropy gets 1 - alpha' }),
      cache: Type.Boolean({ default: true, description: "cache the teacher's logits per training example" }),
    },
    { additionalProperties: false },
  ),
  create: withTeacher((teacher, _student, o) => kdContribution(teacher, o)),
});

export const distillHint = definePlugin({
  name: 'distill.hint',
  description:
    'FitNets hint (Romero et al. 2015) in the following fine-tuning: L2 between a teacher and a student feature, through a learned 1x1 conv / linear adapter when the channel counts differ (dropped after training).',
  schema: Type.Object(
    {
      ...common,
      ...tapOptions,
      weight: Type.Number({ minimum: 0, default: 1, description: 'factor on the mean squared error' }),
      adapter: Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('none')], {
        default: 'auto',
        description: "learned channel map: when the counts differ ('auto'), always, or never",
      }),
    },
    { additionalProperties: false },
  ),
  create: withTeacher((teacher, student, o, ctx) => hintContribution(teacher, student, { ...o, seed: ctx.seed })),
});

export const distillNst = definePlugin({
  name: 'distill.nst',
  description:
    'Neuron Selectivity Transfer (Huang & Wang 2017) in the following fine-tuning: squared MMD, polynomial kernel (d = 2, c = 0), between spatially L2-normalised teacher and student feature maps.',
  schema: Type.Object(
    {
      ...common,
      ...tapOptions,
      weight: Type.Number({ minimum: 0, default: 25, description: 'factor on the squared MMD (lambda / 2 in the paper)' }),
    },
    { additionalProperties: false },
  ),
  create: withTeacher((teacher, student, o) => nstContribution(teacher, student, o)),
});
