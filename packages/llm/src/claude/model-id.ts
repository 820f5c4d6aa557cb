import { ErrorCodes, TollgateError } from '@tollgate/core';

/** A model id the limiter refused: not a string, empty, too long, or with characters no model id has. */
export class InvalidModelError extends TollgateError {
  /** What was given (the message shows at most 40 characters of it). */
  readonly model: unknown;

  constructor(model: unknown) {
    super(
      ErrorCodes.INVALID_MODEL,
      `tollgate: model ${shown(model)} is not a model id; accepted: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. 'claude-sonnet-4-5')`,
    );
    this.name = 'InvalidModelError';
    this.model = model;
  }
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The model id, checked before it reaches a bucket key, a ledger field or a metric label. A
 * proxy passes client input here: `undefined`, `42` or `''` must not become a TypeError, nor
 * a call recorded under a stand-in name; nor may a name of Object.prototype's (`constructor`).
 */
export function modelId(model: unknown): string {
  if (typeof model !== 'string' || !MODEL_ID.test(model) || model in Object.prototype) {
    throw new InvalidModelError(model);
  }
  return model;
}

/** A given model for a message: hostile input is cut short and quoted, never dumped. */
function shown(model: unknown): string {
  if (typeof model === 'string') return JSON.stringify(model.length > 40 ? `${model.slice(0, 40)}…` : model);
  if (model === null || typeof model !== 'object') return String(model);
  return Array.isArray(model) ? 'an array' : 'an object';
}
