/**
 * One loop for code that may or may not wait: the driver is a generator that yields whatever an
 * importance or hook returns, and a runner resumes it with the value (awaited, or as it is). So
 * the same removal loop serves async callers (ThiNet's between-layer fine-tune) and sync ones
 * (SSS finalisation inside a training hook).
 */
export type Steps<R> = Generator<unknown, R, unknown>;

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

export async function runAsync<R>(steps: Steps<R>): Promise<R> {
  let r = steps.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = await r.value;
    } catch (e) {
      r = steps.throw(e);
      continue;
    }
    r = steps.next(value);
  }
  return r.value;
}

export function runSync<R>(steps: Steps<R>, who: string): R {
  let r = steps.next();
  while (!r.done) {
    if (isThenable(r.value)) throw new Error(`${who}: an importance or hook returned a promise; use the async pruneGroups`);
    r = steps.next(r.value);
  }
  return r.value;
}
