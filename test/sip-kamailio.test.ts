// The production SIP front (issue 17): Debian's Kamailio with docs/kamailio.cfg (read from the file, as an
// operator runs it) in front of the gateway. A terminal dials the hearing at the proxy: the challenge,
// the call, its sound in the hearing, and both ends of the dialog (its BYE, and the court hanging up on
// it) go through Kamailio; what is not a call to a hearing is answered by Kamailio itself.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHearing, withServer } from './helpers/server.ts';
import { freeUdpPort, offer, SipPhone, TerminalSound } from './helpers/sip.ts';
import { until } from './helpers/wait.ts';
import { connect, request } from './helpers/socket.ts';

const CONFIG = path.join(import.meta.dirname, '..', 'docs', 'kamailio.cfg');
const OPUS = ['-c:a', 'libopus', '-b:a', '32k', '-payload_type', '111', '-ssrc', '4343'];

/** Kamailio in the foreground on 127.0.0.1:`port` (UDP and TCP), handing calls to `gateway`. */
async function kamailio(port: number, gateway: string): Promise<{ stop: () => Promise<void>; log: () => string }> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kamailio-'));
  const child: ChildProcess = spawn(
    'kamailio',
    [
      ...['-DD', '-E', '-f', CONFIG, '-Y', runDir, '-P', path.join(runDir, 'kamailio.pid'), '-m', '64', '-M', '8'],
      ...['-A', `LISTEN_UDP=udp:127.0.0.1:${port}`, '-A', `LISTEN_TCP=tcp:127.0.0.1:${port}`, '-A', `GATEWAY="${gateway}"`],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Up when it answers its keepalive.
  const probe = await SipPhone.start();
  try {
    await until(
      'the proxy answering',
      async () =>
        (await Promise.race([probe.send(`sip:127.0.0.1:${port}`, 'OPTIONS'), new Promise((r) => setTimeout(r, 500))])) !== undefined,
      15_000,
    );
  } finally {
    probe.close();
  }
  return {
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(runDir, { recursive: true, force: true });
    },
  };
}

describe('Kamailio in front of the SIP gateway (docs/kamailio.cfg)', () => {
  const ctx = withServer({ sip: { port: 0, rtpTimeoutMs: 30_000 } });
  const proxy = {} as { port: number; stop: () => Promise<void>; log: () => string };
  beforeAll(async () => {
    proxy.port = await freeUdpPort();
    Object.assign(proxy, await kamailio(proxy.port, `sip:127.0.0.1:${ctx.server.sip!.port}`));
  });
  afterAll(async () => {
    await proxy.stop?.();
  });

  it('a terminal dials the hearing at the proxy: challenged and admitted by the gateway, its sound in the hearing; its BYE and the court’s go through the proxy', async () => {
    const { server } = ctx;
    const h = await openHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '看守所终端', role: 'party', endpoint: 'sip' } as { name: string; role: string },
    ]);
    const [judge, terminal] = h.participants as unknown as [
      { id: string; token: string },
      { id: string; sip: { uri: string; user: string; pin: string } },
    ];
    // The same hearing code and credentials, dialled at the proxy's address.
    const atProxy = { ...terminal.sip, uri: terminal.sip.uri.replace(/:\d+$/, `:${proxy.port}`) };
    const phone = await SipPhone.start();
    const sound = await TerminalSound.open();
    try {
      const call = await phone.dial(atProxy, offer({ audio: ['opus'], rtcpMux: true, audioPort: sound.port }));
      expect([call.challenged, call.final.status]).toEqual([true, 200]);
      // The dialog's route goes through the proxy (its Record-Route), so the ACK and BYE do too.
      expect(JSON.stringify(call.final.headers['record-route'])).toContain(`"port":${proxy.port}`);
      phone.ack(call.final);
      const port = Number(/^m=audio (\d+) /m.exec(call.final.content)![1]);
      sound.send(port, OPUS);
      await until(
        'its sound in the hearing',
        async () => ((await server.sip!.callOf(terminal.id)?.producers[0]?.getStats())?.[0]?.packetCount ?? 0) > 50,
        15_000,
      );
      // The terminal hangs up: its BYE reaches the gateway through the proxy.
      sound.quiet();
      expect((await phone.request(call.final, 'BYE', 2)).status).toBe(200);
      await until('the terminal out of the hearing', () => server.sip!.callOf(terminal.id) === undefined, 5_000);
      expect(server.store.auditLog(h.id).find((e) => e.action === 'participant.left' && e.actor === terminal.id)?.detail).toMatchObject({
        reason: 'hung up',
      });

      // Again, and this time the court hangs up: the gateway's BYE reaches the terminal through the proxy.
      const again = await phone.dial(atProxy, offer({ audio: ['opus'], rtcpMux: true, audioPort: sound.port }));
      expect(again.final.status).toBe(200);
      phone.ack(again.final);
      await until('the second call up', () => server.sip!.callOf(terminal.id) !== undefined, 5_000);
      const judgeSocket = await connect(server.url, judge.token);
      try {
        await request(judgeSocket, 'join', {});
        expect((await request(judgeSocket, 'hangUpTerminal', { participantId: terminal.id })).error).toBeUndefined();
      } finally {
        judgeSocket.disconnect();
      }
      await until('the court’s BYE at the terminal', () => phone.byes.length > 0, 10_000);
      const bye = phone.byes[0]!;
      expect(bye.headers['call-id']).toBe(again.final.headers['call-id']);
      // It came by the proxy: the proxy's Via is on it.
      expect(JSON.stringify(bye.headers.via)).toContain(`"port":${proxy.port}`);
    } finally {
      sound.close();
      phone.close();
    }
  });

  it('answers what is not a call to a hearing itself: REGISTER 405, a URI that is no hearing code 404; a well-formed code no hearing has is the gateway’s 404', async () => {
    const phone = await SipPhone.start();
    try {
      const register = await phone.send(`sip:127.0.0.1:${proxy.port}`, 'REGISTER');
      expect(register.status).toBe(405);
      expect(String(register.headers.allow)).toContain('INVITE');
      const sdp = offer({ audio: ['opus'], audioPort: await freeUdpPort() });
      const notACode = await phone.invite(`sip:court@127.0.0.1:${proxy.port}`, { sdp });
      expect(notACode.final.status).toBe(404);
      expect(notACode.final.reason).toBe('No such hearing');
      const noHearing = await phone.invite(`sip:99999999@127.0.0.1:${proxy.port}`, { sdp });
      expect(noHearing.final.status).toBe(404);
      expect(noHearing.final.reason).toMatch(/no hearing has this number/);
    } finally {
      phone.close();
    }
  });
});
