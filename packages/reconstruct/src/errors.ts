/** Bad input to a reconstruction step. The message names the layer, param or option at fault. */
export class ReconstructError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReconstructError';
  }
}
