/**
 * Base class of every error greenwasm throws on purpose. Subclasses set `name`
 * so that `err.name` identifies the failure without `instanceof`.
 */
export class GreenwasmError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GreenwasmError";
  }
}
