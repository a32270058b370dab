import { createHash, createPublicKey, randomUUID, verify, type JsonWebKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ImageDecoder } from '../evidence/images.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { FreezeRow, SignatureRow, Store } from '../store/store.ts';
import type { TranscriptService } from './transcripts.ts';

/** The exact text a participant signs for a frozen transcript version. */
export const signingMessage = (f: Pick<FreezeRow, 'hearingId' | 'version' | 'digest' | 'manifestHead'>): string =>
  `hearing-transcript/v1\n${f.hearingId}\n${f.version}\n${f.digest}\n${f.manifestHead ?? 'no-record'}`;

/** Why a signature is not valid: a code (the HTML 笔录 says it in the hearing's language) and English for the API. */
export const SIGNATURE_PROBLEMS = {
  does_not_verify: 'signature does not verify',
  transcript_changed: 'transcript changed after signing',
} as const;
export type SignatureProblem = keyof typeof SIGNATURE_PROBLEMS;

export interface SignatureStatus extends SignatureRow {
  valid: boolean;
  problem: SignatureProblem | null;
  reason: string | null;
}

/** Signing keys one participant may register. */
export const MAX_KEYS = 8;

/**
 * Signing the transcript on the participants' own devices: each device registers an ECDSA P-256 public
 * key at join; the judge or clerk freezes the transcript (its digest with the record's head hash); each
 * participant signs that version; a later edit makes those signatures show as invalid.
 */
export class TranscriptSigning {
  constructor(
    private readonly store: Store,
    private readonly transcripts: TranscriptService,
    private readonly manifestHead: (hearingId: string) => string | null,
    private readonly dirOf: (hearingId: string) => string,
    private readonly images: ImageDecoder,
  ) {}

  /** Where a drawn signature image is kept (beside the record; its hash is in the record). */
  imageFile(hearingId: string, signatureId: string): string {
    return path.join(this.dirOf(hearingId), 'signatures', `${signatureId}.png`);
  }

  /**
   * Registers a device's public key; `fresh` is false when this participant had registered it before.
   * At most `MAX_KEYS` per participant (a few devices and browsers), and a key is one participant's.
   */
  registerKey(participantId: string, jwk: JsonWebKey): { keyId: string; fresh: boolean } {
    let key;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch (error) {
      throw new AppError(400, 'bad_key', `not a public key: ${(error as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new AppError(400, 'bad_key', 'an ECDSA P-256 public key is required');
    const keyId = createHash('sha256')
      .update(key.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    const owner = this.store.key(keyId)?.participantId;
    if (owner === participantId) return { keyId, fresh: false };
    if (owner) throw new AppError(409, 'key_taken', 'this key belongs to another participant');
    if (this.store.keyCount(participantId) >= MAX_KEYS)
      throw new AppError(429, 'limit_reached', `at most ${MAX_KEYS} signing keys per participant`);
    this.store.insertKey(keyId, participantId, JSON.stringify(jwk), new Date().toISOString());
    return { keyId, fresh: true };
  }

  freeze(hearingId: string, actor: string): FreezeRow & { message: string } {
    const previous = this.store.freezes(hearingId).at(-1);
    const row: FreezeRow = {
      hearingId,
      version: (previous?.version ?? 0) + 1,
      digest: this.transcripts.digest(hearingId),
      manifestHead: this.manifestHead(hearingId),
      frozenBy: actor,
      at: new Date().toISOString(),
    };
    this.store.insertFreeze(row);
    return { ...row, message: signingMessage(row) };
  }

  /** Verifies and stores a signature; `image` is an optional drawn signature (PNG/JPEG, base64). */
  async sign(
    hearingId: string,
    participantId: string,
    version: number,
    keyId: string,
    signature: string,
    image?: string,
  ): Promise<SignatureStatus> {
    const frozen = this.store.freezes(hearingId).find((f) => f.version === version);
    if (!frozen) throw notFound('frozen transcript version');
    const key = this.store.key(keyId);
    if (!key || key.participantId !== participantId) throw new AppError(403, 'forbidden', 'that signing key is not yours');
    const row: SignatureRow = {
      id: randomUUID(),
      hearingId,
      version,
      participantId,
      keyId,
      signature,
      signedAt: new Date().toISOString(),
      imageSha256: null,
    };
    const status = this.check(row, frozen);
    if (!status.valid) throw new AppError(400, 'bad_signature', status.reason ?? 'signature does not verify');
    if (image !== undefined) {
      const png = await this.images.reencode(Buffer.from(image.replace(/^data:image\/\w+;base64,/, ''), 'base64'), 512 * 1024, 'png');
      row.imageSha256 = createHash('sha256').update(png.data).digest('hex');
      const file = this.imageFile(hearingId, row.id);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, png.data);
    }
    this.store.insertSignature(row);
    return { ...status, imageSha256: row.imageSha256 };
  }

  /** Every signature with its status now: valid only if it verifies and the transcript is unchanged since. */
  statuses(hearingId: string): SignatureStatus[] {
    const freezes = this.store.freezes(hearingId);
    return this.store.signatures(hearingId).map((s) =>
      this.check(
        s,
        freezes.find((f) => f.version === s.version)!,
      ),
    );
  }

  /** The latest frozen version with the text its signers sign, if the transcript was frozen. */
  latest(hearingId: string): (FreezeRow & { message: string }) | undefined {
    const row = this.store.freezes(hearingId).at(-1);
    return row && { ...row, message: signingMessage(row) };
  }

  freezes(hearingId: string): FreezeRow[] {
    return this.store.freezes(hearingId);
  }

  private check(s: SignatureRow, frozen: FreezeRow): SignatureStatus {
    const key = this.store.key(s.keyId);
    let verified = false;
    try {
      verified =
        Boolean(key) &&
        verify(
          'sha256',
          Buffer.from(signingMessage(frozen)),
          { key: createPublicKey({ key: JSON.parse(key!.jwk) as JsonWebKey, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
          Buffer.from(s.signature, 'base64'),
        );
    } catch {
      verified = false;
    }
    const problem: SignatureProblem | null = !verified
      ? 'does_not_verify'
      : this.transcripts.digest(s.hearingId) !== frozen.digest
        ? 'transcript_changed'
        : null;
    return { ...s, valid: problem === null, problem, reason: problem && SIGNATURE_PROBLEMS[problem] };
  }
}
