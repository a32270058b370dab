import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { spawnTied } from '../../workers/taps/children.ts';

describe('child processes', () => {
  it('a command written to a dead encoder (EPIPE) is logged by the guard, never thrown at the server', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      // An encoder that has closed its input (a stalled ffmpeg on its way out) but not exited yet.
      const child = spawnTied('sh', ['-c', 'exec 0<&-; sleep 30'], { stdio: ['pipe', 'ignore', 'pipe'] });
      await once(child, 'spawn');
      // What the program's speaker switch did then: nobody but the guard listens for the pipe's error.
      const speakerSwitch = setInterval(() => child.stdin.writable && child.stdin.write('cstreamselect -1 map 1\n'), 100);
      try {
        await vi.waitFor(() => expect(warn.mock.calls.some((c) => /stdin: .*EPIPE/.test(String(c[0])))).toBe(true), { timeout: 5000 });
      } finally {
        clearInterval(speakerSwitch);
        child.kill('SIGKILL');
      }
    } finally {
      warn.mockRestore();
    }
  });
});
