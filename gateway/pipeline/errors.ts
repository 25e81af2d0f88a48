/** Errors raised by the pipeline carry a stable code and say what to do. */
export type PipelineErrorCode = 'GL_ERR_PIPELINE_DUPLICATE_TAG' | 'GL_ERR_PIPELINE_OPTION';

export class PipelineError extends Error {
  readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string) {
    super(message);
    this.name = 'PipelineError';
    this.code = code;
  }
}
