import { definePlugin, Type, type Registry } from '@condense/core';
import { weightParams } from '@condense/ir';

/** placeholder */
export const distill = definePlugin({
  name: 'distill.example',
  description: 'placeholder',
  schema: Type.Object(
    {
      scale: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'factor applied to every kernel' }),
    },
    { additionalProperties: false },
  ),
  create: (options) => ({
    // What the stage needs, leaves on the graph, and destroys: the pipeline checks orders with it.
    contract: { provides: [], conflicts: ['encoded'] },
    apply(graph) {
      for (const { param } of weightParams(graph)) for (let i = 0; i < param.data.length; i++) param.data[i] *= options.scale;
      return { notes: [`scaled kernels by ${options.scale}`] };
    },
  }),
});

export const plugins = [distill];

export function register(registry: Registry): void {
  registry.register(distill as never);
}
