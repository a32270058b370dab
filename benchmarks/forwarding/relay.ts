// Child process: the floor baseline. A raw UDP relay that copies each packet to its destinations,
// rewriting only the SSRC per destination (as any forwarder must), with no RTP/RTCP logic at all.
import dgram from 'node:dgram';
import type { FromChild, ToChild } from './messages.ts';

const send = (m: FromChild): void => void process.send?.(m);

process.on('message', async (m: ToChild) => {
  if (m.type !== 'relay') return;
  const ports: number[] = [];
  for (const route of m.routes) {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 });
    socket.on('message', (packet) => {
      for (const d of route.destinations) {
        const copy = Buffer.from(packet);
        copy.writeUInt32BE(d.ssrc >>> 0, 8);
        socket.send(copy, d.port, '127.0.0.1');
      }
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    ports.push(socket.address().port);
  }
  send({ type: 'ports', ports });
});
