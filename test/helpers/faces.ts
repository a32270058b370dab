import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HearingServer } from '../../server/app/server.ts';

/** Real face photos: 3 people x 5 (150x150 crops), from shared/fixtures. */
export const FACES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/faces');
export const PEOPLE = ['amy', 'howard', 'leonard'] as const;
export const face = (name: string): Buffer => fs.readFileSync(path.join(FACES_DIR, `${name}.png`));

/** POSTs a reference photo (multipart field "photo") with the API key. */
export async function enroll(server: HearingServer, hearingId: string, participantId: string, data: Buffer | null, name = 'id.png') {
  const form = new FormData();
  if (data) form.append('photo', new Blob([new Uint8Array(data)]), name);
  else form.append('note', 'no photo');
  const response = await fetch(`${server.url}/api/v1/hearings/${hearingId}/participants/${participantId}/reference-photo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/**
 * A fake camera showing one photo: a 640x480 y4m (the face centred at 320x320, as a phone would frame
 * it), for Chromium's --use-file-for-fake-video-capture.
 */
export function fakeCamera(name: string): string {
  const out = path.join(os.tmpdir(), `fake-camera-${name}-${process.pid}.y4m`);
  if (!fs.existsSync(out)) {
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-loop',
      '1',
      '-i',
      path.join(FACES_DIR, `${name}.png`),
      '-vf',
      'scale=320:320,pad=640:480:160:80:gray',
      '-frames:v',
      '30',
      '-r',
      '15',
      '-pix_fmt',
      'yuv420p',
      out,
    ]);
  }
  return out;
}
