import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HearingServer } from '../../server/app/server.ts';
import type { AuditRow } from '../../server/store/store.ts';

let downloads: string | undefined;
/** Where downloaded segments go: one folder per test process, removed when it exits. */
function segmentsDir(): string {
  if (!downloads) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-segments-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    downloads = dir;
  }
  return downloads;
}

/**
 * The newest segment of a hearing's public program, if it was made after `after` (wall clock, from its
 * EXT-X-PROGRAM-DATE-TIME), downloaded to a temporary file.
 */
export async function newestSegment(
  server: HearingServer,
  hearingId: string,
  after = 0,
): Promise<{ name: string; file: string } | undefined> {
  const lines = (await (await fetch(`${server.url}/live/${hearingId}/video.m3u8`)).text().catch(() => '')).split('\n');
  const i = lines.findLastIndex((l) => l.endsWith('.ts'));
  const pdt = lines.slice(0, i).findLast((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'));
  if (i < 0 || !pdt || Date.parse(pdt.slice(25)) <= after) return undefined;
  const name = lines[i]!;
  const file = path.join(segmentsDir(), name);
  fs.writeFileSync(file, Buffer.from(await (await fetch(`${server.url}/live/${hearingId}/${name}`)).arrayBuffer()));
  return { name, file };
}

/** The `stream.*` entries of a hearing's log (runs rebuilt, stalls, encoder exits, actions). */
export function streamLog(server: HearingServer, hearingId: string): AuditRow[] {
  return server.store.auditLog(hearingId).filter((e) => e.action.startsWith('stream.'));
}

/** For `.catch` on a wait: the error again, with what the stream did and its health now appended, so a time-out explains itself. */
export function withStreamLog(server: HearingServer, hearingId: string): (error: Error) => never {
  return (error) => {
    throw new Error(
      `${error.message}\n${streamLog(server, hearingId)
        .map((e) => `${e.at} ${e.action} ${JSON.stringify(e.detail)}`)
        .join('\n')}\nnow: ${JSON.stringify(server.live.health().find((h) => h.hearingId === hearingId) ?? null)}`,
    );
  };
}
