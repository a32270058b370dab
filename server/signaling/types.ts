// Types shared by the signaling server and its groups of message handlers.
import type { DefaultEventsMap, Socket } from 'socket.io';
import type { z } from 'zod';
import type { TokenClaims } from '../http/auth.ts';
import type { signalingSchemas, SignalingEvent } from './schemas.ts';
import type { MediaRoom } from '../../workers/media/room.ts';

export interface SocketData {
  claims: TokenClaims;
  name: string;
}
export type HearingSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;
export type Handler<E extends SignalingEvent> = (
  data: z.output<(typeof signalingSchemas)[E]>,
  ctx: { socket: HearingSocket; claims: TokenClaims; room: () => Promise<MediaRoom> },
) => Promise<unknown> | unknown;
/** Registers the handler of one message (validation, role check and ack are done around it). */
export type On = <E extends SignalingEvent>(event: E, handler: Handler<E>) => void;
