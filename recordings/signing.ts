import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, createHash, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface RecordSignature {
  algorithm: 'Ed25519';
  hearingId: string;
  lines: number;
  headHash: string;
  signedAt: string;
  /** SHA-256 of the public key (SPKI DER), hex: which key signed. */
  keyFingerprint: string;
  publicKeyPem: string;
  signature: string;
}

/** The message a record signature covers. */
export const signedMessage = (hearingId: string, lines: number, headHash: string): Buffer =>
  Buffer.from(`hearing-record/v1\n${hearingId}\n${lines}\n${headHash}`, 'utf8');

export const keyFingerprint = (key: KeyObject): string =>
  createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');

/** The server's Ed25519 record key: `<data>/record-key.pem` (0600; a cluster's shared folder), generated on first start. */
export class RecordKey {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  static loadOrCreate(dataDir: string): RecordKey {
    const file = path.join(dataDir, 'record-key.pem');
    if (!fs.existsSync(file)) {
      // Written whole under a temporary name, then linked into place: nodes of a cluster starting together
      // on a shared folder end up with one key (the first link wins, the others read it).
      const { privateKey } = generateKeyPairSync('ed25519');
      fs.mkdirSync(dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      try {
        fs.linkSync(tmp, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    const privateKey = createPrivateKey(fs.readFileSync(file));
    return new RecordKey(privateKey, createPublicKey(privateKey));
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  sign(hearingId: string, lines: number, headHash: string): RecordSignature {
    return {
      algorithm: 'Ed25519',
      hearingId,
      lines,
      headHash,
      signedAt: new Date().toISOString(),
      keyFingerprint: keyFingerprint(this.publicKey),
      publicKeyPem: this.publicKeyPem,
      signature: sign(null, signedMessage(hearingId, lines, headHash), this.privateKey).toString('base64'),
    };
  }
}

export function verifySignature(sig: RecordSignature, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedMessage(sig.hearingId, sig.lines, sig.headHash), publicKey, Buffer.from(sig.signature, 'base64'));
  } catch {
    return false;
  }
}
