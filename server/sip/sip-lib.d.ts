// Types for npm `sip` 0.0.6 (it ships none): what the gateway and the tests use of it.
declare module 'sip' {
  export interface SipUri {
    schema?: string;
    user?: string;
    password?: string;
    host: string;
    port?: number;
    params: Record<string, string | null | undefined>;
    headers?: Record<string, string>;
  }
  export interface NameAddr {
    name?: string;
    uri: string;
    params: Record<string, string | null | undefined>;
  }
  export interface SipHeaders {
    via: { version?: string; protocol?: string; host: string; port?: number; params: Record<string, string | null | undefined> }[];
    to: NameAddr;
    from: NameAddr;
    'call-id': string;
    cseq: { seq: number; method: string };
    contact?: NameAddr[];
    'content-type'?: string;
    'content-length'?: number;
    authorization?: Record<string, string | undefined>[];
    'www-authenticate'?: Record<string, string | undefined>[];
    'max-forwards'?: number;
    [name: string]: unknown;
  }
  export interface SipMessage {
    method?: string;
    uri?: string;
    version?: string;
    status?: number;
    reason?: string;
    headers: SipHeaders;
    content: string;
  }
  export interface Remote {
    protocol: string;
    address: string;
    port: number;
    local: { address: string; port: number };
  }
  export interface Stack {
    send(m: SipMessage | Partial<SipMessage>, callback?: (rs: SipMessage) => void): void;
    destroy(): void;
    hostname(): string;
    /** A URI the stack routes back over `flow` (the connection or address a request came from). */
    encodeFlowUri(flow: Remote): SipUri;
  }
  export interface CreateOptions {
    port?: number;
    address?: string;
    publicAddress?: string;
    hostname?: string;
    udp?: boolean;
    tcp?: boolean;
    maxBytesHeaders?: number;
    maxContentLength?: number;
    logger?: {
      error?: (e: unknown) => void;
      send?: (m: SipMessage, target: unknown) => void;
      recv?: (m: SipMessage, remote: Remote) => void;
    };
  }
  interface SipModule {
    create(options: CreateOptions, onRequest: (rq: SipMessage, remote: Remote) => void): Stack;
    makeResponse(
      rq: SipMessage,
      status: number,
      reason: string,
      extension?: { headers?: Record<string, unknown>; content?: string },
    ): SipMessage;
    parse(s: string): SipMessage | undefined;
    stringify(m: SipMessage): string;
    parseUri(s: string): SipUri | undefined;
    stringifyUri(u: SipUri): string;
    copyMessage(m: SipMessage, deep?: boolean): SipMessage;
  }
  const sip: SipModule;
  export default sip;
}

declare module 'sip/digest.js' {
  import type { SipMessage } from 'sip';
  export interface DigestContext {
    realm?: string;
    nonce?: string;
    qop?: string;
    algorithm?: string;
    nc?: number;
    [key: string]: unknown;
  }
  interface DigestModule {
    challenge(ctx: DigestContext, rs: SipMessage): SipMessage;
    authenticateRequest(ctx: DigestContext, rq: SipMessage, creds: { user: string; hash?: string; password?: string }): boolean;
    signRequest(ctx: DigestContext | null, rq: SipMessage, rs: SipMessage, creds: { user: string; password: string }): DigestContext | null;
  }
  const digest: DigestModule;
  export default digest;
}
