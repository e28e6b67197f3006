/** Bad options or input to a quantizer. The message names the option field, param or layer at fault. */
export class QuantizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantizeError';
  }
}
