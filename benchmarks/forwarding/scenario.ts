import type { LoadProfile } from './messages.ts';
import { runForwarding, type RunResult } from './run.ts';
import type { Layout, SystemName } from './systems.ts';
import type { ScenarioOutcome, Progress } from '../lib/scenario.ts';

export interface ForwardingOptions {
  hearings: number;
  publishers: number;
  subscribers: number;
  seconds: number;
  workers: number;
  video: boolean;
  /** Consumer counts to try, audio only, until the first loss; empty = no sweep. */
  sweep: number[];
  sweepSeconds: number;
  receivers: number;
}

export const FORWARDING_DEFAULTS: ForwardingOptions = {
  hearings: 10,
  publishers: 3,
  subscribers: 6,
  seconds: 10,
  workers: 2,
  video: true,
  sweep: [500, 1000, 2000, 3000, 4000],
  sweepSeconds: 5,
  receivers: 2,
};

const TARGETS = { cpuRatioVsBare: 1.05, p99AddedLatencyMs: 1, maxConsumersZeroLoss: 3000 };
/**
 * A sweep step holds when nothing was lost or duplicated and its p99 one-way latency stayed under this: a
 * step that delivers every packet 200 ms late (the histogram's ceiling) is not a step the server carries.
 */
export const SWEEP_P99_LIMIT_MS = 50;
const holds = (r: RunResult): boolean => r.lost === 0 && r.duplicates === 0 && r.latencyUs.p99 < SWEEP_P99_LIMIT_MS * 1000;

function profile(seconds: number): LoadProfile {
  // Opus at 50 packets/s; VP8 at 600 kbps, 30 fps, key frame every 2 s.
  return { seconds, audio: { pps: 50, bytes: 120 }, video: { fps: 30, kbps: 600, mtu: 1100, keyFrameEverySeconds: 2 } };
}

/**
 * The same load on a raw UDP relay (floor), bare mediasoup (baseline), our media plane alone, our whole
 * server (REST, signaling, the hearings' lifecycle; recording paused, transcription off) in a process of
 * its own, and our media plane across two nodes, one after the other in the same run; then an audio-only
 * sweep on our media plane for the most consumers with zero loss. The headline figures are the whole
 * server's: what an operator runs.
 */
export async function forwardingScenario(o: ForwardingOptions, progress: Progress): Promise<ScenarioOutcome> {
  const layout: Layout = { hearings: o.hearings, publishers: o.publishers, subscribers: o.subscribers, video: o.video, workers: o.workers };
  const runs: RunResult[] = [];
  const systems: SystemName[] = ['relay', 'bare', 'ours', 'server', 'span'];
  const steps = systems.length + o.sweep.length;
  let step = 0;
  for (const system of systems) {
    const label = `${system} ${o.hearings}x${o.publishers}x${o.subscribers}`;
    runs.push(
      await runForwarding(system, layout, profile(o.seconds), {
        receivers: o.receivers,
        socketsPerReceiver: 16,
        rtcMinPort: 30000,
        onProgress: (f) => progress((step + f) / steps, label),
      }),
    );
    step++;
  }
  const sweep: RunResult[] = [];
  for (const consumers of o.sweep) {
    const hearings = Math.max(1, Math.ceil(consumers / 500));
    const sweepLayout: Layout = { hearings, publishers: 1, subscribers: Math.ceil(consumers / hearings), video: false, workers: o.workers };
    const run = await runForwarding('ours', sweepLayout, profile(o.sweepSeconds), {
      receivers: o.receivers,
      socketsPerReceiver: 16,
      rtcMinPort: 30000,
      onProgress: (f) => progress((step + f) / steps, `sweep ${consumers} audio consumers`),
    });
    sweep.push(run);
    step++;
    if (!holds(run)) break;
  }
  progress(1, 'done');

  const [relay, bare, plane, ours, span] = runs as [RunResult, RunResult, RunResult, RunResult, RunResult];
  const zeroLoss = sweep.filter(holds);
  const firstLoss = sweep.find((r) => !holds(r));
  const summary = {
    cpuRatioVsBare: ratio(ours.cpuPctPer1kPps, bare.cpuPctPer1kPps),
    cpuRatioVsRelay: ratio(ours.cpuPctPer1kPps, relay.cpuPctPer1kPps),
    // What our control plane adds over bare mediasoup on the same packets, in the same harness.
    p99AddedLatencyMs: Number(((ours.latencyUs.p99 - bare.latencyUs.p99) / 1000).toFixed(3)),
    p99VsRelayMs: Number(((ours.latencyUs.p99 - relay.latencyUs.p99) / 1000).toFixed(3)),
    p99LatencyMs: { ours: ours.latencyUs.p99 / 1000, bare: bare.latencyUs.p99 / 1000, relay: relay.latencyUs.p99 / 1000 },
    lostPackets: ours.lost,
    // The media plane alone (no REST, signaling or lifecycle), the same load: what the whole server adds.
    mediaPlane: {
      cpuRatioVsBare: ratio(plane.cpuPctPer1kPps, bare.cpuPctPer1kPps),
      p99AddedLatencyMs: Number(((plane.latencyUs.p99 - bare.latencyUs.p99) / 1000).toFixed(3)),
      lostPackets: plane.lost,
    },
    wholeServerCpuRatioVsMediaPlane: ratio(ours.cpuPctPer1kPps, plane.cpuPctPer1kPps),
    // One hearing across two nodes (two processes, a PipeTransport between them): loss and the extra hop.
    spanLostPackets: span.lost,
    spanP99ExtraMs: Number(((span.latencyUs.p99 - plane.latencyUs.p99) / 1000).toFixed(3)),
    spanCpuRatioVsOurs: ratio(span.cpuPctPer1kPps, plane.cpuPctPer1kPps),
    forwardedPps: ours.forwardedPps,
    /** The largest sweep step with nothing lost and p99 under SWEEP_P99_LIMIT_MS. */
    maxConsumersZeroLoss: zeroLoss.length ? Math.max(...zeroLoss.map((r) => r.consumers)) : 0,
    sweepRule: `0 packets lost or duplicated and p99 latency < ${SWEEP_P99_LIMIT_MS} ms`,
    sweepLimit: !o.sweep.length
      ? 'no sweep'
      : !firstLoss
        ? 'no loss and p99 in bounds up to the largest step'
        : firstLoss.lost === 0 && firstLoss.duplicates === 0
          ? `p99 ${firstLoss.latencyUs.p99 / 1000} ms at ${firstLoss.consumers} consumers, nothing lost: late, not lost`
          : firstLoss.kernelRcvbufErrors > 0
            ? `loss at ${firstLoss.consumers} consumers with ${firstLoss.kernelRcvbufErrors} kernel receive-buffer drops: the receivers (load harness on the same cores) could not keep up`
            : firstLoss.kernelSndbufErrors > 0
              ? `loss at ${firstLoss.consumers} consumers with ${firstLoss.kernelSndbufErrors} kernel send-buffer drops: the forwarder's sockets`
              : `loss at ${firstLoss.consumers} consumers with no kernel drops: inside the forwarder (CPU)`,
  };
  const targets = [
    {
      name: 'cpuRatioVsBare',
      value: summary.cpuRatioVsBare,
      target: `<= ${TARGETS.cpuRatioVsBare}`,
      ok: summary.cpuRatioVsBare <= TARGETS.cpuRatioVsBare,
    },
    {
      name: 'p99AddedLatencyMs',
      value: summary.p99AddedLatencyMs,
      target: `< ${TARGETS.p99AddedLatencyMs}`,
      ok: summary.p99AddedLatencyMs < TARGETS.p99AddedLatencyMs,
    },
    { name: 'lostPackets', value: summary.lostPackets, target: '= 0', ok: summary.lostPackets === 0 },
    { name: 'spanLostPackets', value: summary.spanLostPackets, target: '= 0', ok: summary.spanLostPackets === 0 },
  ];
  if (o.sweep.length) {
    targets.push({
      name: 'maxConsumersZeroLoss',
      value: summary.maxConsumersZeroLoss,
      target: `>= ${TARGETS.maxConsumersZeroLoss}`,
      ok: summary.maxConsumersZeroLoss >= TARGETS.maxConsumersZeroLoss,
    });
  }
  return {
    summary,
    targets,
    samples: { runs, sweep },
    table: {
      columns: [
        'system',
        'consumers',
        'forwarded pkt/s',
        'lost',
        'dup',
        'out of order',
        'CPU % per 1k pkt/s',
        'p50 µs',
        'p99 µs',
        'max µs',
        'RSS MiB',
      ],
      rows: [...runs, ...sweep].map((r, i) => [
        i < runs.length ? LABELS[r.system] : `ours, media plane (sweep, audio)`,
        r.consumers,
        r.forwardedPps,
        r.lost,
        r.duplicates,
        r.outOfOrder,
        r.cpuPctPer1kPps,
        r.latencyUs.p50,
        r.latencyUs.p99,
        r.latencyUs.max,
        r.forwarderPeakRssMiB,
      ]),
    },
    chart: {
      title: 'CPU per 1,000 forwarded packets/s (% of a core), same load',
      bars: runs.map((r) => ({ label: LABELS[r.system], value: r.cpuPctPer1kPps })),
    },
  };
}

const LABELS: Record<SystemName, string> = {
  relay: 'relay',
  bare: 'bare',
  ours: 'ours, media plane',
  server: 'ours, whole server',
  span: 'ours, media plane, 2 nodes',
};

function ratio(a: number, b: number): number {
  return b > 0 ? Number((a / b).toFixed(3)) : 0;
}
