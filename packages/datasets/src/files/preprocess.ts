/** How pixel values (0..255) map to model inputs: a range, then an optional per-channel (x - mean) / std. */
export interface Preprocess {
  /** '0,1' (default), '-1,1' or '0,255'. */
  inputRange?: InputRange;
  /** Per channel (or one for all), subtracted after the range mapping. */
  mean?: number[];
  /** Per channel (or one for all), divided by after the mean. */
  std?: number[];
}

export type InputRange = '0,1' | '-1,1' | '0,255';

export const INPUT_RANGES: readonly InputRange[] = ['0,1', '-1,1', '0,255'];

/** Read '0,1' | '-1,1' | '0,255' (spaces allowed); errors name `what`. */
export function parseInputRange(text: string, what = '--input-range'): InputRange {
  const t = text.replace(/\s+/g, '') as InputRange;
  if (!INPUT_RANGES.includes(t)) throw new Error(`${what} must be one of ${INPUT_RANGES.join(' | ')}, got '${text}'`);
  return t;
}

/** Read a comma-separated list of numbers (a mean or std). */
export function parseNumbers(text: string, what: string): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((x) => !Number.isFinite(x))) throw new Error(`${what} must be comma-separated numbers, got '${text}'`);
  return v;
}

/**
 * A function from raw pixel values (0..255, channel-last with `channels` per pixel) to model
 * inputs. Errors name `what` when a mean / std does not fit the channels or a std is 0.
 */
export function pixelMap(p: Preprocess, channels: number, what: string): (raw: ArrayLike<number>) => Float32Array {
  const [scale, offset] = p.inputRange === '-1,1' ? [1 / 127.5, -1] : p.inputRange === '0,255' ? [1, 0] : [1 / 255, 0];
  const perChannel = (v: number[] | undefined, name: string, fill: number) => {
    if (v === undefined) return new Float32Array(channels).fill(fill);
    if (v.length !== 1 && v.length !== channels) throw new Error(`${what}: ${name} has ${v.length} values for ${channels} channel(s)`);
    return Float32Array.from({ length: channels }, (_, c) => v[v.length === 1 ? 0 : c]);
  };
  const mean = perChannel(p.mean, 'mean', 0);
  const std = perChannel(p.std, 'std', 1);
  if (std.some((s) => s === 0)) throw new Error(`${what}: std must not be 0`);
  return (raw) => {
    const out = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const c = i % channels;
      out[i] = (raw[i] * scale + offset - mean[c]) / std[c];
    }
    return out;
  };
}
