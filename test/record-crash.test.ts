import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, openJoin } from './helpers/browser.ts';
import { verifyRecord } from '../recordings/verify.ts';
import { sleep, until } from './helpers/wait.ts';
import { freePort, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

const API_KEY = 'crash-test-api-key-0123456789';

describe('server crash mid-hearing', () => {
  let browser: Browser;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    server?.child.kill('SIGKILL');
  });

  it('the record up to the last closed segment verifies after kill -9, and the crash is an interruption event', async () => {
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearing-crash-'));
    const env = {
      PORT: String(port),
      HEARING_HOST: '127.0.0.1',
      HEARING_DATA_DIR: dataDir,
      HEARING_API_KEY: API_KEY,
      HEARING_DEMO: '0',
      HEARING_WORKERS: '1',
      // The record is what is looked at, not the transcript (NO_ASR in helpers/server.ts).
      HEARING_ASR_ENGINE: 'off',
      HEARING_RTC_MIN_PORT: '46000',
      HEARING_RTC_MAX_PORT: '46999',
      HEARING_RECORD_PORT_MIN: '26000',
      HEARING_RECORD_PORT_MAX: '26999',
    };
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, route: string, body?: unknown): Promise<any> => {
      const r = await fetch(`${base}${route}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return r.json();
    };

    server = await startServerProcess(env);
    const hearing = await call('POST', '/api/v1/hearings', { caseNumber: 'CRASH-1', title: 'Crash test' });
    const judge = await call('POST', `/api/v1/hearings/${hearing.id}/participants`, { name: 'Judge Wang', role: 'judge' });
    const page = await openJoin(browser, judge.joinUrl);
    await call('POST', `/api/v1/hearings/${hearing.id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${hearing.id}/transitions`, { to: 'open' });
    const dir = path.join(dataDir, 'hearings', hearing.id);
    const manifest = path.join(dir, 'manifest.jsonl');
    const segmentLines = (): number =>
      fs.existsSync(manifest)
        ? fs
            .readFileSync(manifest, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"type":"segment"')).length
        : 0;
    await until('four closed segments', () => segmentLines() >= 4, 10_000);

    server.child.kill('SIGKILL');
    await server.exited;
    const linesAtCrash = fs.readFileSync(manifest, 'utf8').split('\n').filter(Boolean).length;
    // What was written before the crash verifies on its own (not signed yet).
    expect(verifyRecord(dir, { allowUnsigned: true }).problems.filter((p) => p.kind !== 'segment_unlisted')).toEqual([]);
    // The orphaned recorder process closes the segments it had open after the server is gone: wait
    // until the files no manifest line lists stop changing (same names and sizes twice, 1 s apart).
    const unlistedNow = (): string =>
      JSON.stringify(
        verifyRecord(dir, { allowUnsigned: true })
          .problems.filter((p) => p.kind === 'segment_unlisted')
          .map((p) => `${p.file}:${fs.statSync(path.join(dir, p.file!)).size}`)
          .sort(),
      );
    let previous = '';
    await until(
      'the orphaned segments to be closed',
      async () => {
        const current = unlistedNow();
        const stable = current === previous && current !== '[]';
        previous = current;
        if (!stable) await sleep(750);
        return stable;
      },
      15_000,
    );
    const unlistedAtCrash = (JSON.parse(previous) as string[]).map((f) => f.replace(/:\d+$/, ''));

    server = await startServerProcess(env);
    const lines = (): any[] =>
      fs
        .readFileSync(manifest, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const interruption = await until('the interruption line', () => lines().find((l) => l.event === 'interruption'), 10_000);
    expect(interruption).toMatchObject({ cause: 'server crash', seq: linesAtCrash + 1 });
    // It lists exactly the files the crash left unlisted, with their sizes and hashes as they are on disk.
    expect(interruption.unlistedFiles.map((f: any) => f.file).sort()).toEqual(unlistedAtCrash);
    for (const f of interruption.unlistedFiles) {
      const data = fs.readFileSync(path.join(dir, f.file));
      expect(f).toEqual({ file: f.file, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    }
    expect(verifyRecord(dir, { allowUnsigned: true }).problems).toEqual([]);

    // The browser rejoins by itself; recording resumes with every track; closing signs the whole record.
    await page.waitForFunction(() => (window as any).hearingClient.state().joins >= 2, undefined, { timeout: 30_000 });
    const resumed = await until('record.resumed', () => lines().find((l) => l.event === 'record.resumed'), 10_000);
    const afterResume = () => lines().filter((l) => l.type === 'segment' && l.seq > resumed.seq);
    await until('two segments of each track after the resume', () => {
      const kinds = afterResume().map((l) => l.kind);
      return kinds.filter((k) => k === 'audio').length >= 2 && kinds.filter((k) => k === 'video').length >= 2;
    });
    for (const segment of afterResume()) {
      // New media, recorded after the resume, not a leftover of the run before the crash.
      expect(Date.parse(segment.start)).toBeGreaterThanOrEqual(Date.parse(resumed.at) - 1000);
      expect(segment.durationSeconds).toBeGreaterThan(0);
      expect(unlistedAtCrash).not.toContain(segment.file);
    }
    await call('POST', `/api/v1/hearings/${hearing.id}/transitions`, { to: 'closed' });
    await until('the signature', () => fs.existsSync(path.join(dir, 'signature.json')), 10_000);
    const final = verifyRecord(dir);
    expect(final.problems).toEqual([]);
    expect(final).toMatchObject({ ok: true, signed: true, finalized: true });
    const verified = await call('GET', `/api/v1/hearings/${hearing.id}/record/verify`);
    expect(verified.ok).toBe(true);
    server.child.kill('SIGTERM');
    await server.exited;
    server = undefined;
  });
});
