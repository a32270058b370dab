// SIP terminals through the gateway (issue 17): how long a call takes to set up (INVITE → 200 OK, the
// digest challenge included), how long a sound takes from one terminal's mouth to another's ear through
// the gateway (transcoded in, mixed, encoded out), and the server's CPU per terminal with its sound
// passed through (Opus) beside the same with it transcoded (G.711), in the same run.
import { localServer } from '../lib/local-server.ts';
import dgram from 'node:dgram';
import * as g711 from 'alawmulaw';
import type { HearingServer } from '../../server/app/server.ts';
import { cpuSecondsOf, percentile, processTree } from '../lib/proc.ts';
import type { SipMessage } from 'sip';
import { offer, SipPhone, TerminalSound } from '../lib/sip-phone.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';

export interface SipOptions {
  /** Terminals in one hearing for the CPU steps. */
  terminals: number;
  /** How long each CPU step and the latency step run. */
  seconds: number;
}

export const SIP_DEFAULTS: SipOptions = { terminals: 4, seconds: 15 };

/** alawmulaw is CommonJS: its functions are on the default export at run time. */
const { mulaw } = ((g711 as unknown as { default?: typeof g711 }).default ?? g711) as typeof g711;
const round = (v: number, d = 1): number => Number(v.toFixed(d));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FRAME = 160; // 20 ms at 8 kHz
const BEEP_EVERY_MS = 1000;
const BEEP_MS = 200;

interface Terminal {
  participantId: string;
  sip: { uri: string; user: string; pin: string };
}

async function rest<T = unknown>(server: HearingServer, method: string, route: string, body?: unknown): Promise<T> {
  const r = await fetch(`${server.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${server.secrets.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json: unknown = await r.json();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(json)}`);
  return json as T;
}

/** An open hearing with `n` terminal accounts. */
async function hearingWithTerminals(server: HearingServer, n: number, label: string): Promise<Terminal[]> {
  const h = await rest<{ id: string }>(server, 'POST', '/hearings', {
    caseNumber: `SIP-BENCH-${label}-${Date.now()}`,
    title: 'SIP bench',
    // The gateway's own cost: nobody transcribes (the transcriber takes a terminal's microphone like a page's).
    asr: { engine: 'off', language: 'en' },
  });
  await rest(server, 'POST', `/hearings/${h.id}/participants`, { name: 'Judge', role: 'judge' });
  const terminals: Terminal[] = [];
  for (let i = 0; i < n; i++) {
    const p = await rest<{ id: string; sip: Terminal['sip'] }>(server, 'POST', `/hearings/${h.id}/participants`, {
      name: `Terminal ${i + 1}`,
      role: 'party',
      endpoint: 'sip',
    });
    terminals.push({ participantId: p.id, sip: p.sip });
  }
  for (const to of ['waiting_room', 'open']) await rest(server, 'POST', `/hearings/${h.id}/transitions`, { to });
  return terminals;
}

const answeredPort = (sdp: string): number => Number(/^m=audio (\d+) /m.exec(sdp)?.[1] ?? 0);

/** Dials, acknowledges; returns the phone, the answer and how long INVITE → 200 OK took (the challenge included). */
async function call(t: Terminal, audioPort: number, codec: 'opus' | 'pcmu'): Promise<{ phone: SipPhone; ok: SipMessage; setupMs: number }> {
  const phone = await SipPhone.start();
  const started = performance.now();
  const dialled = await phone.dial(t.sip, offer({ audioPort, audio: [codec], rtcpMux: true }));
  const setupMs = performance.now() - started;
  if (dialled.final.status !== 200) throw new Error(`call not answered: ${dialled.final.status} ${dialled.final.reason}`);
  phone.ack(dialled.final);
  return { phone, ok: dialled.final, setupMs };
}

/** BYE, and the phone closed. */
async function hangUp(c: { phone: SipPhone; ok: SipMessage }): Promise<void> {
  await Promise.race([c.phone.request(c.ok, 'BYE', 2), sleep(2000)]);
  c.phone.close();
}

/**
 * Mouth to ear: terminal A sends G.711 µ-law built here (silence, and a 1 kHz beep of 200 ms each second,
 * the send time of each beep's first packet noted); terminal B decodes what the gateway sends it and
 * notes when each beep's first loud packet arrives.
 */
async function mouthToEar(server: HearingServer, seconds: number): Promise<{ samples: number[]; sent: number; setupMs: number[] }> {
  const [a, b] = await hearingWithTerminals(server, 2, 'LATENCY');
  const sockA = dgram.createSocket('udp4');
  const sockB = dgram.createSocket('udp4');
  await Promise.all([sockA, sockB].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  const callA = await call(a!, sockA.address().port, 'pcmu');
  const callB = await call(b!, sockB.address().port, 'pcmu');
  const sent: number[] = [];
  const arrived: number[] = [];
  let loud = false;
  sockB.on('message', (m) => {
    if (m.length <= 12 || (m[1]! & 0x7f) !== 0) return;
    const pcm = mulaw.decode(new Uint8Array(m.subarray(12)));
    const rms = Math.sqrt(pcm.reduce((s, x) => s + x * x, 0) / pcm.length);
    if (rms > 2000 && !loud) arrived.push(performance.now());
    loud = rms > 2000;
  });
  // B hears A once A's transcoded microphone is in B's feed: the beeps start after a settling time.
  const gateway = answeredPort(callA.ok.content);
  const gatewayB = answeredPort(callB.ok.content);
  const silence = mulaw.encode(new Int16Array(FRAME));
  const beep = (frame: number): Uint8Array =>
    mulaw.encode(
      Int16Array.from({ length: FRAME }, (_, i) => Math.round(12000 * Math.sin((2 * Math.PI * 1000 * (frame * FRAME + i)) / 8000))),
    );
  const start = performance.now();
  const ssrc = 0x1234567;
  let seq = 0;
  const end = start + (seconds + 4) * 1000;
  for (let n = 0; performance.now() < end; n++) {
    const due = start + n * 20;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const msIn = n * 20 - 4000; // 4 s to settle before the first beep
    // A beep each second for `seconds` seconds, each sent whole.
    const inBeep = msIn >= 0 && msIn < seconds * 1000 && msIn % BEEP_EVERY_MS < BEEP_MS;
    if (inBeep && msIn % BEEP_EVERY_MS === 0) sent.push(performance.now());
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = 0; // PCMU
    header.writeUInt16BE(seq++ & 0xffff, 2);
    header.writeUInt32BE((n * FRAME) >>> 0, 4);
    header.writeUInt32BE(ssrc, 8);
    sockA.send(Buffer.concat([header, inBeep ? beep(n) : silence]), gateway, '127.0.0.1');
    // B sends silence, as a terminal does (the gateway sends nothing to a terminal it has not heard from).
    header.writeUInt32BE(ssrc + 1, 8);
    sockB.send(Buffer.concat([header, silence]), gatewayB, '127.0.0.1');
  }
  await sleep(1000);
  // Hung up: the calls end now, not when the gateway finds their media gone.
  await hangUp(callA);
  await hangUp(callB);
  sockA.close();
  sockB.close();
  // Each beep sent, matched with the first loud arrival after it (before the next beep).
  const samples = sent.flatMap((at, i) => {
    const next = sent[i + 1] ?? Infinity;
    const got = arrived.find((t) => t > at && t < next);
    return got === undefined ? [] : [got - at];
  });
  return { samples, sent: sent.length, setupMs: [callA.setupMs, callB.setupMs] };
}

/** `n` terminals in one hearing sending a tone (Opus passed through, or µ-law transcoded): the server's CPU per terminal. */
async function cpuStep(
  server: HearingServer,
  n: number,
  codec: 'opus' | 'pcmu',
  seconds: number,
): Promise<{ cpuPct: number; setupMs: number[] }> {
  const terminals = await hearingWithTerminals(server, n, codec.toUpperCase());
  const calls: { phone: SipPhone; ok: SipMessage; sound: TerminalSound }[] = [];
  const setupMs: number[] = [];
  try {
    for (const t of terminals) {
      const sound = await TerminalSound.open();
      const c = await call(t, sound.port, codec);
      setupMs.push(c.setupMs);
      sound.send(
        answeredPort(c.ok.content),
        codec === 'opus'
          ? ['-c:a', 'libopus', '-b:a', '32k', '-payload_type', '111']
          : ['-ac', '1', '-c:a', 'pcm_mulaw', '-ar', '8000', '-payload_type', '0'],
      );
      calls.push({ ...c, sound });
    }
    await sleep(4000); // every feed and transcoder started
    // The server's processes: this one and its children, not the terminals' encoders.
    const encoders = new Set(calls.flatMap((c) => (c.sound.encoderPid ? processTree(c.sound.encoderPid) : [])));
    const server_ = (): number[] => processTree(process.pid).filter((p) => !encoders.has(p));
    const before = cpuSecondsOf(server_());
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const used = cpuSecondsOf(server_()) - before;
    return { cpuPct: (used / ((performance.now() - t0) / 1000)) * 100, setupMs };
  } finally {
    for (const c of calls) {
      c.sound.close();
      await hangUp(c);
    }
  }
}

export async function sipScenario(o: SipOptions, progress: Progress): Promise<ScenarioOutcome> {
  const { server, close } = await localServer('sip', { rtcMinPort: 40000, rtcMaxPort: 49999, sip: { port: 0, rtpTimeoutMs: 30_000 } });
  try {
    progress(0.05, 'mouth to ear (G.711 in, mixed, G.711 out)');
    const latency = await mouthToEar(server, o.seconds);
    progress(0.4, `${o.terminals} Opus terminals`);
    const opus = await cpuStep(server, o.terminals, 'opus', o.seconds);
    progress(0.7, `${o.terminals} G.711 terminals`);
    const pcmu = await cpuStep(server, o.terminals, 'pcmu', o.seconds);
    progress(1, 'done');
    const setups = [...latency.setupMs, ...opus.setupMs, ...pcmu.setupMs];
    const summary = {
      calls: setups.length,
      callSetupMsP50: round(percentile(setups, 0.5)),
      callSetupMsMax: round(Math.max(...setups)),
      beepsSent: latency.sent,
      beepsHeard: latency.samples.length,
      mouthToEarMsP50: latency.samples.length ? round(percentile(latency.samples, 0.5)) : null,
      mouthToEarMsP95: latency.samples.length ? round(percentile(latency.samples, 0.95)) : null,
      terminals: o.terminals,
      cpuPctPerTerminalOpus: round(opus.cpuPct / o.terminals),
      cpuPctPerTerminalTranscoded: round(pcmu.cpuPct / o.terminals),
    };
    return {
      summary,
      targets: [
        { name: 'call setup p50 (ms)', value: summary.callSetupMsP50, target: '≤ 1000', ok: summary.callSetupMsP50 <= 1000 },
        {
          name: 'mouth to ear p50 through the gateway, G.711 both ways (ms)',
          value: summary.mouthToEarMsP50 ?? -1,
          target: '≤ 250',
          ok: summary.mouthToEarMsP50 !== null && summary.mouthToEarMsP50 <= 250,
        },
        {
          name: 'beeps heard of those sent',
          value: summary.beepsHeard,
          target: `= ${summary.beepsSent}`,
          ok: summary.beepsHeard === summary.beepsSent,
        },
      ],
      samples: { setupMs: setups, mouthToEarMs: latency.samples },
      table: {
        columns: ['figure', 'value'],
        rows: Object.entries(summary).map(([k, v]) => [k, v === null ? '—' : (v as number)]),
      },
      chart: {
        title: 'server CPU % per SIP terminal',
        bars: [
          { label: 'Opus passed through', value: summary.cpuPctPerTerminalOpus },
          { label: 'G.711 transcoded', value: summary.cpuPctPerTerminalTranscoded },
        ],
      },
    };
  } finally {
    await close();
  }
}
