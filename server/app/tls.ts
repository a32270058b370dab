// HTTPS for the pages and the signaling: browsers give a page the camera and microphone only on a
// secure origin. Either the operator's certificate (HEARING_TLS_CERT/HEARING_TLS_KEY) or, for a trial on
// a LAN, one generated on first start for this machine's names and addresses (HEARING_TLS=self-signed),
// made again when the machine has an address it does not name.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where they are on disk (coturn reads them too). */
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint of the certificate (to compare on a phone that warns about it). */
  fingerprint: string;
  generated: boolean;
}

/** Reads and checks the PEM files, or generates (or reuses) the self-signed pair in `<dataDir>/tls`. */
export function loadTls(tls: { cert: string; key: string } | 'self-signed', dataDir: string): TlsMaterial {
  if (tls === 'self-signed') return selfSigned(path.join(dataDir, 'tls'));
  return checked(tls.cert, tls.key, false);
}

function checked(certFile: string, keyFile: string, generated: boolean): TlsMaterial {
  const read = (file: string, what: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${what} ${file} cannot be read: ${(error as Error).message}`);
    }
  };
  const cert = read(certFile, 'HEARING_TLS_CERT');
  const key = read(keyFile, 'HEARING_TLS_KEY');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error(`HEARING_TLS_CERT ${certFile} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`HEARING_TLS_KEY ${keyFile} is not a PEM private key (unencrypted)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`HEARING_TLS_KEY ${keyFile} is not the key of HEARING_TLS_CERT ${certFile}`);
  if (Date.parse(x509.validTo) < Date.now()) throw new Error(`HEARING_TLS_CERT ${certFile} expired on ${x509.validTo}`);
  return { cert, key, certFile, keyFile, fingerprint: x509.fingerprint256, generated };
}

/** This machine's names and addresses, as the certificate must name them. */
export function machineNames(): { dns: string[]; ips: string[] } {
  const ips = new Set(['127.0.0.1']);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') ips.add(a.address);
  }
  const dns = [...new Set(['localhost', os.hostname()])].filter((n) => /^[A-Za-z0-9.-]+$/.test(n));
  return { dns, ips: [...ips] };
}

function selfSigned(dir: string): TlsMaterial {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const names = machineNames();
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const existing = checkedOrNull(certFile, keyFile);
    const named = existing && new X509Certificate(existing.cert).subjectAltName;
    // Reused while it names every address of the machine (a new network interface: a new certificate).
    if (existing && named && names.ips.every((ip) => named.includes(`IP Address:${ip}`))) return existing;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const san = [...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((ip) => `IP:${ip}`)].join(',');
  // OpenSSL (Debian's) makes the pair: an ECDSA P-256 key, 397 days (what browsers accept at most).
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '397',
      '-subj',
      `/CN=${names.dns[1] ?? 'localhost'}/O=hearing media core (self-signed)`,
      '-addext',
      `subjectAltName=${san}`,
      '-addext',
      'extendedKeyUsage=serverAuth',
      '-keyout',
      `${keyFile}.tmp`,
      '-out',
      `${certFile}.tmp`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  fs.chmodSync(`${keyFile}.tmp`, 0o600);
  fs.renameSync(`${keyFile}.tmp`, keyFile);
  fs.renameSync(`${certFile}.tmp`, certFile);
  return checked(certFile, keyFile, true);
}

function checkedOrNull(certFile: string, keyFile: string): TlsMaterial | null {
  try {
    return checked(certFile, keyFile, false);
  } catch {
    return null;
  }
}
