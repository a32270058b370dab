// The public playlists are replaced (renamed over) with every segment while viewers fetch them: each
// answer must be one whole version, never the length of one and the bytes of another.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicLiveRouter } from '../../server/livestream/api.ts';
import type { LivestreamService } from '../../server/livestream/livestream.ts';

const HEARING = '6f1c2d9e-3b4a-4c5d-8e7f-9a0b1c2d3e4f';

describe('public stream files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-files-'));
  const long = `#EXTM3U\n${Array.from({ length: 400 }, (_, i) => `#EXTINF:2.000,\nseg_${String(i).padStart(6, '0')}.ts`).join('\n')}\n`;
  const short = '#EXTM3U\n#EXT-X-ENDLIST\n';
  let url = '';
  let close = (): void => undefined;
  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'video.m3u8'), short);
    const live = { isPublic: () => true, publicDir: () => dir } as unknown as LivestreamService;
    const app = express().use(publicLiveRouter(live, dir));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => {
    close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a playlist fetched while it is replaced is always one whole version', async () => {
    // Another process replaces the playlist as fast as it can, alternating a long and a short version
    // (bounded: it stops by itself after 20 s, or when the test ends).
    fs.writeFileSync(path.join(dir, 'long'), long);
    fs.writeFileSync(path.join(dir, 'short'), short);
    const writer = spawn(
      'node',
      [
        '-e',
        `const fs=require('fs'),p=require('path'),d=process.argv[1],end=Date.now()+20000;
         let i=0;while(Date.now()<end){const v=i++%2?'long':'short';fs.copyFileSync(p.join(d,v),p.join(d,'next'));fs.renameSync(p.join(d,'next'),p.join(d,'video.m3u8'));}`,
        dir,
      ],
      { stdio: 'ignore' },
    );
    try {
      const seen = { long: 0, short: 0 };
      const broken: string[] = [];
      for (let i = 0; i < 400; i++) {
        try {
          const r = await fetch(`${url}/live/${HEARING}/video.m3u8`);
          const body = await r.text();
          if (body === long) seen.long++;
          else if (body === short) seen.short++;
          else broken.push(`${r.status}: ${body.length} bytes`);
        } catch (error) {
          broken.push((error as Error).message);
        }
      }
      expect(broken).toEqual([]);
      // Both versions were served: the playlist really was being replaced during the fetches.
      expect(seen.long).toBeGreaterThan(0);
      expect(seen.short).toBeGreaterThan(0);
    } finally {
      writer.kill();
    }
  });
});
