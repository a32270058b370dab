// Types for npm `node-media-server` 2.7.4 (it ships none): what server/sources/rtmp.ts uses of it.
declare module 'node-media-server' {
  interface RtmpSession {
    socket: import('node:net').Socket;
    ip: string;
    reject(): void;
  }
  type Args = Record<string, string | string[] | undefined>;
  export default class NodeMediaServer {
    constructor(config: {
      logType?: number;
      rtmp: { port: number; chunk_size?: number; gop_cache?: boolean; ping?: number; ping_timeout?: number };
    });
    stop(): void;
    getSession(id: string): RtmpSession | undefined;
    on(
      event: 'prePublish' | 'donePublish' | 'prePlay' | 'postPublish',
      listener: (id: string, streamPath: string, args: Args) => void,
    ): void;
  }
}
