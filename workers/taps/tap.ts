import type { types } from 'mediasoup';
import { MediaError } from '../media/error.ts';
import { isConsultationRoom, type MediaPlane } from '../media/plane.ts';
import type { MediaRoom } from '../media/room.ts';

/**
 * One server-side consumer of a main-room producer (recorder, transcriber, face checker, livestream
 * program): a PlainTransport and a consumer on it, paused until `connect` gives it a destination. A
 * video consumer asks for a key frame when it starts sending; one sent before the transport has a
 * destination is wasted (the camera then throttles the next request, and mediasoup re-asks only after
 * a second), so every tap starts paused.
 */
export interface Tap {
  readonly producerId: string;
  readonly transport: types.PlainTransport;
  readonly consumer: types.Consumer;
  /** The codec the consumer sends (what the receiving ffmpeg's SDP describes). */
  readonly codec: types.RtpCodecParameters;
  /** The same, as plain data for a message to a helper process. */
  readonly codecMessage: {
    mimeType: string;
    payloadType: number;
    clockRate: number;
    channels?: number;
    parameters?: Record<string, unknown>;
  };
  readonly ssrc: number;
  /** Sends to 127.0.0.1:`port` (RTCP to `rtcpPort` unless muxed) and resumes the consumer. */
  connect(port: number, rtcpPort?: number): Promise<void>;
  close(): void;
  readonly closed: boolean;
}

/**
 * Taps `producerId` in `room` as the internal peer `peerId`. Never a consultation room: what is said
 * there is never recorded, transcribed, checked or streamed. Nothing is left behind when it fails (a
 * producer may close between its announcement and the tap).
 */
export async function openTap(room: MediaRoom, peerId: string, producerId: string, o: { rtcpMux: boolean }): Promise<Tap> {
  if (isConsultationRoom(room)) throw new MediaError('bad_request', 'consultation rooms are never tapped');
  const transport = await room.createPlainTransport(peerId, 'recv', { rtcpMux: o.rtcpMux });
  let consumer: types.Consumer;
  try {
    consumer = await room.consume(peerId, transport.id, producerId, room.rtpCapabilities, { paused: true });
  } catch (error) {
    transport.close();
    throw error;
  }
  const codec = consumer.rtpParameters.codecs[0]!;
  return {
    producerId,
    transport,
    consumer,
    codec,
    codecMessage: {
      mimeType: codec.mimeType,
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      channels: codec.channels,
      parameters: codec.parameters,
    },
    ssrc: consumer.rtpParameters.encodings![0]!.ssrc!,
    async connect(port, rtcpPort) {
      await transport.connect(o.rtcpMux ? { ip: '127.0.0.1', port } : { ip: '127.0.0.1', port, rtcpPort: rtcpPort ?? port + 1 });
      await consumer.resume();
    },
    close: () => transport.close(),
    get closed() {
      return transport.closed;
    },
  };
}

/**
 * Calls `follow` for every main room the plane opens (again after a worker death rebuilds one); a
 * consultation room is never handed to a tap's owner.
 */
export function followMainRooms(plane: MediaPlane, follow: (room: MediaRoom) => void): void {
  plane.on('roomOpened', (room) => {
    if (!isConsultationRoom(room)) follow(room);
  });
}
