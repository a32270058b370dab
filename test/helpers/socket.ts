import { io, type Socket } from 'socket.io-client';

/** A Node socket.io client with a participant token; resolves when connected, rejects with the refusal. */
export function connect(url: string, token?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      socket.close();
      reject(error);
    });
  });
}

export function request(socket: Socket, event: string, data?: unknown): Promise<any> {
  return socket.timeout(10_000).emitWithAck(event, data);
}

export async function refusal(url: string, token?: string): Promise<{ message: string; code?: string }> {
  try {
    const socket = await connect(url, token);
    socket.close();
  } catch (error) {
    const e = error as Error & { data?: { code?: string } };
    return { message: e.message, code: e.data?.code };
  }
  throw new Error('connection was accepted');
}
