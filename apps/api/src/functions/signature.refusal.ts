import type { SigV4Error, SigV4Failure } from '@tributary/auth';
import type { Refusal } from '@tributary/observability';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** The Lambda API's words for each way a signature fails, as AWS answers them. */
const ERROR_TYPE: Record<SigV4Failure, LambdaErrorType> = {
  missing: LambdaErrorType.MissingAuthenticationToken,
  malformed: LambdaErrorType.IncompleteSignature,
  'unknown-key': LambdaErrorType.UnrecognizedClient,
  scope: LambdaErrorType.InvalidSignature,
  expired: LambdaErrorType.InvalidSignature,
  mismatch: LambdaErrorType.InvalidSignature,
  'body-hash': LambdaErrorType.InvalidSignature,
};

export const signatureRefusal = (error: SigV4Error): Refusal => new LambdaError(ERROR_TYPE[error.failure], error.message).render();

/** Too many bodies waiting for their signature: Lambda's throttling answer, which SDKs retry. */
export const signatureBusy = (): Refusal =>
  new LambdaError(LambdaErrorType.TooManyRequests, 'Too many request bodies are waiting for their signature to be checked; try again.').render();
