/**
 * Certificates for STARTTLS and implicit TLS. Node's crypto makes keys but cannot build an X.509 certificate, so
 * --tls-self-signed uses the selfsigned package (pure JS over @peculiar/x509); no OpenSSL process is started.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export type PemPair = Readonly<{ cert: string; key: string }>;

/** A certificate for `names` (DNS names or IP addresses), valid for a year; made at start, kept in memory only. */
export async function selfSignedPem(names: readonly string[]): Promise<PemPair> {
  const [first = 'localhost'] = names;
  const pems = await generate([{ name: 'commonName', value: first }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
