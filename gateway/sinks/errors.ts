/** Errors raised by the sinks carry a stable code and say what to do. */
export type SinkErrorCode = 'GL_ERR_SINK_OUTBOX' | 'GL_ERR_SINK_OPTION' | 'GL_ERR_SINK_STOPPED';

export class SinkError extends Error {
  readonly code: SinkErrorCode;

  constructor(code: SinkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SinkError';
    this.code = code;
  }
}

/** Minimal structured logger (pino-compatible). */
export interface SinkLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
