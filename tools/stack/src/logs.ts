// `npm run logs [function]`: follows the log of every invocation (START … REPORT) as the
// workers publish it, for all functions or one.
import { connect } from '@nats-io/transport-node';
import { functionLogSubject } from '@tributary/contracts';

const fn = process.argv[2];
const prefix = process.env['SUBJECT_PREFIX'] ?? 'tributary';
const url = (process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222').replace(/^nats:\/\//, '');
const nc = await connect({ servers: url });
const subject = fn ? functionLogSubject(fn, prefix) : functionLogSubject('*', prefix);
process.stdout.write(`following ${subject} on ${url} (Ctrl-C to stop)\n`);
process.on('SIGINT', () => void nc.drain().then(() => process.exit(0)));
for await (const msg of nc.subscribe(subject)) {
  const name = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
  for (const line of msg.string().trimEnd().split('\n')) process.stdout.write(`${name} | ${line}\n`);
}
