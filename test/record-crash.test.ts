import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, openJoin } from './helpers/browser.ts';
import { verifyRecord } from '../recordings/verify.ts';
import { sleep } from './helpers/wait.ts';

const API_KEY = 'crash-test-api-key-0123456789';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The real server as its own process (`server/app/main.ts`), so the test can kill -9 it. */
async function startServerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn('node', ['--import', 'tsx', 'server/app/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  return child;
}

describe('server crash mid-hearing', () => {
  let browser: Browser;
  let server: ChildProcess | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGKILL');
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
    for (let i = 0; i < 100 && segmentLines() < 4; i++) await sleep(100);
    expect(segmentLines()).toBeGreaterThanOrEqual(4);

    server.kill('SIGKILL');
    await new Promise((resolve) => server!.once('exit', resolve));
    const linesAtCrash = fs.readFileSync(manifest, 'utf8').split('\n').filter(Boolean).length;
    // What was written before the crash verifies on its own (not signed yet).
    const before = verifyRecord(dir);
    expect(before.problems.filter((p) => p.kind !== 'segment_unlisted')).toEqual([]);
    await sleep(1500); // the recorder process closes its last segments after the server is gone

    server = await startServerProcess(env);
    const lines = (): any[] =>
      fs
        .readFileSync(manifest, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    for (let i = 0; i < 50 && !lines().some((l) => l.event === 'interruption'); i++) await sleep(100);
    const interruption = lines().find((l) => l.event === 'interruption');
    expect(interruption).toMatchObject({ cause: 'server crash', seq: linesAtCrash + 1 });
    expect(Array.isArray(interruption.unlistedFiles)).toBe(true);
    const afterRestart = verifyRecord(dir);
    expect(afterRestart.problems).toEqual([]);

    // The browser rejoins by itself; recording resumes; closing signs the whole record.
    await page.waitForFunction(() => (window as any).hearingClient.state().joins >= 2, undefined, { timeout: 30_000 });
    for (let i = 0; i < 100 && !lines().some((l) => l.event === 'record.resumed'); i++) await sleep(100);
    const resumedAt = lines().findIndex((l) => l.event === 'record.resumed');
    expect(resumedAt).toBeGreaterThan(0);
    for (
      let i = 0;
      i < 100 &&
      lines()
        .slice(resumedAt)
        .filter((l) => l.type === 'segment').length < 2;
      i++
    )
      await sleep(100);
    await call('POST', `/api/v1/hearings/${hearing.id}/transitions`, { to: 'closed' });
    for (let i = 0; i < 100 && !fs.existsSync(path.join(dir, 'signature.json')); i++) await sleep(100);
    const final = verifyRecord(dir);
    expect(final.problems).toEqual([]);
    expect(final).toMatchObject({ ok: true, signed: true, finalized: true });
    const verified = await call('GET', `/api/v1/hearings/${hearing.id}/record/verify`);
    expect(verified.ok).toBe(true);
    server.kill('SIGTERM');
    await new Promise((resolve) => server!.once('exit', resolve));
    server = undefined;
  });
});
