/** A self-signed certificate for mx.test and 127.0.0.1, made once per test process with `selfsigned`. */
import { generate } from 'selfsigned';

export type Pems = Readonly<{ key: string; cert: string }>;

let cached: Promise<Pems> | null = null;

export function selfSignedCert(): Promise<Pems> {
  cached ??= generate([{ name: 'commonName', value: 'mx.test' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'mx.test' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  }).then((p) => ({ key: p.private, cert: p.cert }));
  return cached;
}
