import { requireSignatures, verifierFromConfig } from '@tributary/auth';
import { LAMBDA_LIMITS } from '@tributary/contracts';
import { loadConfigOrExit } from '@tributary/config';
import { isProbe, startService } from '@tributary/observability';
import { ApiConfig } from './api.config.js';
import { AppModule } from './app.module.js';
import { limitInvokeBodies } from './functions/invoke-size.hooks.js';
import { LambdaError, LambdaErrorType } from './functions/lambda-error.js';
import { addRequestIds } from './functions/request-id.hook.js';
import { signatureBusy, signatureRefusal } from './functions/signature.refusal.js';

const config = loadConfigOrExit('api', ApiConfig);
const verifier = verifierFromConfig(config, { name: 'Lambda API', service: 'lambda', uriEscapePath: true });
await startService({
  name: 'api',
  module: AppModule.forRoot(config, verifier),
  config,
  bodyLimit: LAMBDA_LIMITS.codeRequestBytes,
  // A path that is not valid percent-encoding: the SDK raises ValidationException, as for a bad name.
  frameworkError: (_status, message) => new LambdaError(LambdaErrorType.Validation, message).render(),
  configure: (fastify) => {
    limitInvokeBodies(fastify);
    addRequestIds(fastify);
    if (!verifier) return [];
    return [
      requireSignatures(fastify, verifier, {
        open: isProbe,
        refuse: signatureRefusal,
        busy: signatureBusy,
        unverifiedBodyBytes: config.UNVERIFIED_BODY_BYTES,
        maxBodyBytes: LAMBDA_LIMITS.codeRequestBytes,
      }),
    ];
  },
});
