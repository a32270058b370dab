import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { QUICK_MS, reachServer, SignalingClient } from '../../client-demo/src/signaling.ts';
import { shouldAskServer } from '../../client-demo/src/stats.ts';
import { until } from '../helpers/wait.ts';

describe('the page asks whether its signaling connection is alive', () => {
  it('when every transport is silent or the media moved address; not when one still hears (a busy device)', () => {
    const silent = { silent: true };
    const hearing = { silent: false };
    expect(shouldAskServer([silent, silent], false)).toBe(true);
    expect(shouldAskServer([silent, hearing], false)).toBe(false);
    expect(shouldAskServer([hearing, silent], false)).toBe(false);
    expect(shouldAskServer([hearing, hearing], false)).toBe(false);
    expect(shouldAskServer([hearing, hearing], true)).toBe(true);
    // No transport up yet (joining): nothing to judge by.
    expect(shouldAskServer([], false)).toBe(false);
  });

  // A real socket.io server that answers the probe at once, late (`answerAfterMs`), or not at all (a
  // connection the network lost).
  let answering = true;
  let answerAfterMs = 0;
  const connections: string[] = [];
  let close: () => Promise<void> = async () => undefined;
  const serve = async (): Promise<string> => {
    // Its /healthz answers over a new connection whether or not the socket's pings are answered.
    const httpServer = http.createServer((req, res) => {
      if (req.url === '/healthz') res.writeHead(200).end('{}');
    });
    const io = new Server(httpServer);
    io.on('connection', (socket) => {
      connections.push(socket.id);
      socket.on('ping', (_data: unknown, ack: (reply: object) => void) => {
        if (answering) setTimeout(() => ack({}), answerAfterMs);
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => void io.close(() => resolve()));
    return `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  };
  afterEach(async () => {
    answering = true;
    answerAfterMs = 0;
    connections.length = 0;
    await close();
  });

  const connected = async (url: string): Promise<SignalingClient> => {
    const client = new SignalingClient('token', { url });
    await until('connected', async () => client.socket.connected, 5000);
    return client;
  };

  it('an answer keeps the connection; so does a late one while the media are heard (a busy device)', async () => {
    const client = await connected(await serve());
    expect(await client.probe(500)).toBe(true);
    // Answered after 450 ms: too late for a 300 ms probe, in time for the second, longer one.
    answerAfterMs = 450;
    expect(await client.probe(300, async () => true)).toBe(true);
    expect(client.socket.connected).toBe(true);
    expect(connections).toHaveLength(1);
    client.socket.close();
  });

  it('no answer: the connection is made again — at once when the media are not heard, after a second try when they are', async () => {
    const client = await connected(await serve());
    answering = false;
    // The media are heard (they moved to a new address by themselves; the connection did not): asked once
    // more, still no answer, made again.
    const started = Date.now();
    expect(await client.probe(300, async () => true)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await until('connected again', async () => connections.length === 2 && client.socket.connected, 5000);
    // Nothing heard: made again after the first.
    const again = Date.now();
    expect(await client.probe(300, async () => false)).toBe(false);
    expect(Date.now() - again).toBeLessThan(900);
    await until('connected a third time', async () => connections.length === 3 && client.socket.connected, 5000);
    // After a move of the media to another address nothing else is asked: no answer, a new connection.
    expect(await client.probe(300)).toBe(false);
    await until('connected a fourth time', async () => connections.length === 4 && client.socket.connected, 5000);
    client.socket.close();
  });

  it('a new connection reaches the server while this one stays silent (the phone changed networks): made again within a second, not after the whole wait', async () => {
    const url = await serve();
    const client = await connected(url);
    const reachable = () => reachServer(url, 3000);
    // Answered: kept, though a new connection reached the server too.
    expect(await client.probe(3000, undefined, reachable)).toBe(true);
    answering = false;
    const started = Date.now();
    expect(await client.probe(3000, undefined, reachable)).toBe(false);
    const took = Date.now() - started;
    // The probed connection is given QUICK_MS (or four round trips of the new one, if longer: loopback here).
    expect(took).toBeGreaterThanOrEqual(QUICK_MS - 10);
    expect(took).toBeLessThan(QUICK_MS + 700);
    await until('connected again', async () => connections.length === 2 && client.socket.connected, 5000);
    // The server unreachable over a new connection too (the network is down, not this connection): the
    // whole wait, as without the check.
    const again = Date.now();
    expect(await client.probe(600, undefined, async () => undefined)).toBe(false);
    expect(Date.now() - again).toBeGreaterThanOrEqual(590);
    client.socket.close();
  });
});
