/** IPC messages between the forwarding scenario and its child processes. */
export interface SendTarget {
  ip: string;
  port: number;
  ssrc: number;
  payloadType: number;
  kind: 'audio' | 'video';
  producer: number;
}

export interface LoadProfile {
  seconds: number;
  audio: { pps: number; bytes: number };
  video: { fps: number; kbps: number; mtu: number; keyFrameEverySeconds: number };
}

export interface Expectation {
  /** SSRC as received at the socket → which consumer (for per-consumer accounting). */
  ssrc: number;
  consumer: number;
  producer: number;
}

export interface ConsumerResult {
  consumer: number;
  producer: number;
  received: number;
  duplicates: number;
  outOfOrder: number;
}

export type ToChild =
  | { type: 'start'; targets: SendTarget[]; profile: LoadProfile }
  | { type: 'listen'; sockets: number }
  | { type: 'expect'; expectations: Expectation[] }
  | { type: 'finish' }
  | { type: 'relay'; routes: { destinations: { port: number; ssrc: number }[] }[] };

export type FromChild =
  | { type: 'ports'; ports: number[] }
  | { type: 'sent'; sent: number[] }
  | { type: 'results'; consumers: ConsumerResult[]; latency: { counts: number[]; max: number }; unknown: number };
