import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fake camera of pure magenta: if any of it reaches a program or a record, its pixels show it. */
export function magentaCamera(): string {
  const file = path.join(os.tmpdir(), `fake-camera-magenta-${process.pid}.y4m`);
  if (!fs.existsSync(file))
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'color=c=0xff00ff:s=640x480:r=15',
      '-frames:v',
      '30',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
  return file;
}

/**
 * A fake microphone that hears a quiet room (very low noise, no tone): the pages of people not speaking.
 * Chromium's default fake microphone beeps every second, and a recognizer on each beeping page decodes
 * all the time (four of them took 1.5–2 of this machine's 2 cores).
 */
export function quietMicrophone(): string {
  const file = path.join(os.tmpdir(), `fake-microphone-quiet-${process.pid}.wav`);
  if (!fs.existsSync(file))
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anoisesrc=a=0.0005:c=pink:r=48000', '-t', '10', '-ac', '1', file]);
  return file;
}

/** Clearly magenta pixels in the frame half a second into a (1 s or longer) segment. */
export function magentaPixels(segment: string): number {
  const rgb = execFileSync(
    'ffmpeg',
    ['-v', 'error', '-i', segment, '-ss', '0.5', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  let n = 0;
  for (let i = 0; i + 2 < rgb.length; i += 3) if (rgb[i]! > 180 && rgb[i + 1]! < 90 && rgb[i + 2]! > 180) n++;
  return n;
}
