// `npm start`: every service against the local NATS, Redis and PostgreSQL, until Ctrl-C.
import { SERVICES, Stack, type ServiceName } from './stack.js';

const stack = new Stack({ output: 'inherit', env: { LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info' } });
const names = Object.keys(SERVICES) as ServiceName[];
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping Tributary…\n');
  await stack.stop('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  await stack.start(names);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  await stack.stop('SIGKILL');
  process.exit(1);
}
process.stdout.write('\nTributary is running:\n');
for (const name of names) process.stdout.write(`  ${name.padEnd(11)} ${stack.url(name)}  (health: ${stack.url(name)}/health)\n`);
process.stdout.write('\nLambda API endpoint for the AWS SDK/CLI: ' + stack.url('api') + '\nPress Ctrl-C to stop.\n');
