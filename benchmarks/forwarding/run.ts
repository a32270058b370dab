import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../lib/histogram.ts';
import { processCpuSeconds, processPeakRssMiB, udpCounters } from '../lib/proc.ts';
import type { ConsumerResult, FromChild, LoadProfile } from './messages.ts';
import { ask, deploy, type Layout, type SystemName } from './systems.ts';

export interface RunResult {
  system: SystemName;
  layout: Layout;
  seconds: number;
  producers: number;
  consumers: number;
  /** Processes whose CPU is counted (the forwarder's: its media workers, and the server's own process when whole). */
  processes: number;
  sentPackets: number;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  unknownSsrc: number;
  forwardedPps: number;
  cpuSeconds: number;
  /** CPU of the forwarding processes, in % of one core, per 1,000 forwarded packets per second. */
  cpuPctPer1kPps: number;
  latencyUs: { p50: number; p99: number; max: number };
  forwarderPeakRssMiB: number;
  kernelRcvbufErrors: number;
  kernelSndbufErrors: number;
  histogram: ReturnType<Histogram['toJSON']>;
}

export interface RunOptions {
  receivers: number;
  socketsPerReceiver: number;
  rtcMinPort: number;
  onProgress?: (fraction: number) => void;
}

const child = (file: string): ChildProcess => fork(fileURLToPath(new URL(file, import.meta.url)), [], { execArgv: ['--import', 'tsx'] });

/** One bounded run of one system under one load; everything it starts is stopped before it returns. */
export async function runForwarding(system: SystemName, layout: Layout, profile: LoadProfile, options: RunOptions): Promise<RunResult> {
  const receivers = Array.from({ length: options.receivers }, () => child('./receiver.ts'));
  const sender = child('./sender.ts');
  let deployed: Awaited<ReturnType<typeof deploy>> | undefined;
  try {
    const ports: number[] = [];
    for (const r of receivers)
      ports.push(...(await ask<{ type: 'ports'; ports: number[] }>(r, { type: 'listen', sockets: options.socketsPerReceiver })).ports);
    deployed = await deploy(system, layout, ports, options.rtcMinPort);
    const byPort = new Map<number, number>();
    receivers.forEach((_, ri) =>
      ports.slice(ri * options.socketsPerReceiver, (ri + 1) * options.socketsPerReceiver).forEach((p) => byPort.set(p, ri)),
    );
    for (let ri = 0; ri < receivers.length; ri++) {
      const expectations = deployed.consumers
        .filter((c) => byPort.get(c.port) === ri)
        .map((c) => ({ ssrc: c.ssrc, consumer: c.consumer, producer: c.producer }));
      await ask(receivers[ri]!, { type: 'expect', expectations });
    }

    const cpu0 = deployed.pids.reduce((s, pid) => s + processCpuSeconds(pid), 0);
    const udp0 = udpCounters();
    const started = Date.now();
    const progress = setInterval(() => options.onProgress?.(Math.min(1, (Date.now() - started) / 1000 / profile.seconds)), 250);
    const { sent } = await ask<{ type: 'sent'; sent: number[] }>(
      sender,
      { type: 'start', targets: deployed.targets, profile },
      (profile.seconds + 30) * 1000,
    );
    clearInterval(progress);
    await new Promise((r) => setTimeout(r, 500)); // in-flight packets
    const elapsed = (Date.now() - started) / 1000;
    const cpuSeconds = deployed.pids.reduce((s, pid) => s + processCpuSeconds(pid), 0) - cpu0;
    const rss = Math.max(...deployed.pids.map((pid) => processPeakRssMiB(pid)));
    const udp1 = udpCounters();

    const histogram = new Histogram();
    const results: ConsumerResult[] = [];
    let unknownSsrc = 0;
    for (const r of receivers) {
      const reply = await ask<Extract<FromChild, { type: 'results' }>>(r, { type: 'finish' });
      results.push(...reply.consumers);
      histogram.merge(reply.latency);
      unknownSsrc += reply.unknown;
    }
    const expectedDeliveries = deployed.consumers.reduce((s, c) => s + (sent[c.producer] ?? 0), 0);
    const delivered = results.reduce((s, c) => s + c.received, 0);
    const forwardedPps = delivered / profile.seconds;
    return {
      system,
      layout,
      seconds: Number(elapsed.toFixed(2)),
      producers: deployed.targets.length,
      consumers: deployed.consumers.length,
      processes: deployed.pids.length,
      sentPackets: sent.reduce((a, b) => a + b, 0),
      expectedDeliveries,
      delivered,
      lost: expectedDeliveries - delivered,
      duplicates: results.reduce((s, c) => s + c.duplicates, 0),
      outOfOrder: results.reduce((s, c) => s + c.outOfOrder, 0),
      unknownSsrc,
      forwardedPps: Math.round(forwardedPps),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      cpuPctPer1kPps: forwardedPps > 0 ? Number((((cpuSeconds / profile.seconds) * 100) / (forwardedPps / 1000)).toFixed(3)) : 0,
      latencyUs: { p50: histogram.quantile(0.5), p99: histogram.quantile(0.99), max: Math.round(histogram.max) },
      forwarderPeakRssMiB: Number(rss.toFixed(1)),
      kernelRcvbufErrors: (udp1.RcvbufErrors ?? 0) - (udp0.RcvbufErrors ?? 0),
      kernelSndbufErrors: (udp1.SndbufErrors ?? 0) - (udp0.SndbufErrors ?? 0),
      histogram: histogram.toJSON(),
    };
  } finally {
    await deployed?.close();
    for (const c of [...receivers, sender]) c.kill();
  }
}
