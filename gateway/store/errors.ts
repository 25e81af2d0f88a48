/** Errors raised by the store carry a stable code and say what to do. */
export type StoreErrorCode =
  | 'GL_ERR_STORE_OPEN'
  | 'GL_ERR_STORE_SCHEMA_NEWER'
  | 'GL_ERR_STORE_MIGRATION'
  | 'GL_ERR_STORE_NOT_STARTED'
  | 'GL_ERR_STORE_ARGUMENT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
