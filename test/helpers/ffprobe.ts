import { execFileSync } from 'node:child_process';

export interface Probe {
  codec: string;
  duration: number;
  width?: number;
  height?: number;
}

/** ffprobe of a media file: first stream's codec and dimensions, the container duration. */
export function ffprobe(file: string): Probe {
  const out = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file], {
      encoding: 'utf8',
    }),
  ) as { streams: { codec_name: string; width?: number; height?: number }[]; format: { duration?: string } };
  const stream = out.streams[0];
  if (!stream) throw new Error(`${file}: no stream`);
  return { codec: stream.codec_name, duration: Number(out.format.duration ?? 0), width: stream.width, height: stream.height };
}

/** Every stream of a media file: codec and kind. */
export function ffprobeStreams(file: string): { codec: string; type: string }[] {
  const out = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type', '-of', 'json', file], { encoding: 'utf8' }),
  ) as {
    streams: { codec_name: string; codec_type: string }[];
  };
  return out.streams.map((s) => ({ codec: s.codec_name, type: s.codec_type }));
}

/** Every error a full decode of a media file reports ('' when it decodes cleanly; ffmpeg stops at the first). */
export function decodeErrors(file: string): string {
  try {
    execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return '';
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
}
