import type { types } from 'mediasoup-client';

/** What one consumer received, and how well (its inbound-rtp statistics, summed over streams). */
export interface InboundStats {
  packetsReceived: number;
  framesDecoded: number;
  /** Lost after the browser's own NACK repair had its chance. */
  packetsLost: number;
  nackCount: number;
  framesDropped: number;
  freezeCount: number;
  totalFreezesDuration: number;
  /** Audio: samples the decoder had to invent (loss concealment), of all samples played. */
  concealedSamples: number;
  totalSamplesReceived: number;
}

const FIELDS = [
  'packetsReceived',
  'framesDecoded',
  'packetsLost',
  'nackCount',
  'framesDropped',
  'freezeCount',
  'totalFreezesDuration',
  'concealedSamples',
  'totalSamplesReceived',
] as const;

export async function inboundStats(consumer: types.Consumer): Promise<InboundStats> {
  const sum = Object.fromEntries(FIELDS.map((f) => [f, 0])) as unknown as InboundStats;
  (await consumer.getStats()).forEach((s: Record<string, unknown>) => {
    if (s.type !== 'inbound-rtp') return;
    for (const f of FIELDS) sum[f] += typeof s[f] === 'number' ? (s[f] as number) : 0;
  });
  return sum;
}

/** What this page's camera sends on one simulcast layer (its outbound-rtp statistics). */
export interface LayerSent {
  rid: string;
  framesSent: number;
  frameWidth: number;
  frameHeight: number;
  /** Why the browser holds the layer back, if it does: `cpu`, `bandwidth`, `none`. */
  qualityLimitationReason: string;
}

export async function sentLayers(producer: types.Producer): Promise<LayerSent[]> {
  const out: LayerSent[] = [];
  (await producer.getStats()).forEach((s: Record<string, unknown>) => {
    if (s.type !== 'outbound-rtp') return;
    out.push({
      rid: typeof s.rid === 'string' ? s.rid : '',
      framesSent: typeof s.framesSent === 'number' ? s.framesSent : 0,
      frameWidth: typeof s.frameWidth === 'number' ? s.frameWidth : 0,
      frameHeight: typeof s.frameHeight === 'number' ? s.frameHeight : 0,
      qualityLimitationReason: typeof s.qualityLimitationReason === 'string' ? s.qualityLimitationReason : '',
    });
  });
  return out.sort((a, b) => a.rid.localeCompare(b.rid));
}

/** A transport's selected candidate pair (the path its media take now), with its local candidate. */
export interface SelectedPair {
  timestamp: number;
  lastPacketReceivedTimestamp?: number;
  bytesSent?: number;
  bytesReceived?: number;
  local?: { address?: string; candidateType?: string; protocol?: string; relayProtocol?: string };
  /** The server's end (a hearing's gallery may be served by another node than its signaling). */
  remote?: { address?: string; port?: number };
}

export function selectedPair(report: RTCStatsReport): SelectedPair | undefined {
  let pairId: string | undefined;
  report.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  const pair = pairId
    ? (report.get(pairId) as (SelectedPair & { localCandidateId?: string; remoteCandidateId?: string }) | undefined)
    : undefined;
  if (!pair) return undefined;
  return {
    ...pair,
    local: pair.localCandidateId ? (report.get(pair.localCandidateId) as SelectedPair['local']) : undefined,
    remote: pair.remoteCandidateId ? (report.get(pair.remoteCandidateId) as SelectedPair['remote']) : undefined,
  };
}

/**
 * Whether the page should ask the server if its signaling connection is still alive. Silence on one
 * transport while another still hears is not the network (a busy device reads its sockets late): only
 * every watched transport silent, or the media moved to another local address, is asked about.
 */
export function shouldAskServer(watched: readonly { silent: boolean }[], moved: boolean): boolean {
  return moved || (watched.length > 0 && watched.every((t) => t.silent));
}

/** Each received camera's packets (received + lost) and losses by its transceiver's mid, from a receive transport's statistics. */
export function videoReceived(report: RTCStatsReport): Map<string, { sent: number; lost: number }> {
  const out = new Map<string, { sent: number; lost: number }>();
  report.forEach((s: { type: string; kind?: string; mid?: string; packetsReceived?: number; packetsLost?: number }) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video' || s.mid === undefined) return;
    const lost = Math.max(0, s.packetsLost ?? 0);
    out.set(s.mid, { sent: (s.packetsReceived ?? 0) + lost, lost });
  });
  return out;
}
