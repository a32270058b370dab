// SIP terminals' accounts: the number each hearing is dialled at, and a digest user and PIN per terminal
// participant. The PIN is given out once (in the REST answer); the store keeps HA1 only.
import { createHash, randomInt } from 'node:crypto';
import type { Store } from '../store/store.ts';

/** The digest realm terminals authenticate in. */
export const SIP_REALM = 'hearing';

/** What a court platform gives the terminal's operator. */
export interface SipAccount {
  /** What the terminal dials: `sip:<hearing code>@<gateway host>:<port>`. */
  uri: string;
  user: string;
  pin: string;
}

/** `n` random decimal digits (terminals are dialled and configured from keypads). */
const digits = (n: number): string => Array.from({ length: n }, () => String(randomInt(10))).join('');

export const ha1Of = (user: string, pin: string): string => createHash('md5').update(`${user}:${SIP_REALM}:${pin}`).digest('hex');

export class SipAccounts {
  constructor(
    private readonly store: Store,
    /** Where terminals reach the gateway (known once it listens). */
    private readonly dial: () => { host: string; port: number },
  ) {}

  /** A new account for `participantId` of `hearingId` (the hearing's code is made the first time). */
  issue(hearingId: string, participantId: string): SipAccount {
    const code = this.store.hearingSipCode(hearingId, () => digits(8));
    let user = digits(10);
    while (this.store.sipUserTaken(user)) user = digits(10);
    const pin = digits(6);
    this.store.insertSipAccount({ participantId, hearingId, user, ha1: ha1Of(user, pin) });
    const { host, port } = this.dial();
    return { uri: `sip:${code}@${host}:${port}`, user, pin };
  }
}
