import { describe, expect, it } from 'vitest';
import { HearingLifecycle, phaseOf, type Transition } from '../../server/hearing/lifecycle.ts';

const t = (to: Transition['to'], from: Transition['from'] = 'open'): Transition => ({ hearingId: 'h1', from, to, actor: 'judge' });

describe('hearing lifecycle', () => {
  it('runs a phase’s steps in registration order, each awaited before the next starts', async () => {
    const log: string[] = [];
    const slow = (name: string, ms: number) => async () => {
      log.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}:end`);
    };
    const lifecycle = new HearingLifecycle(() => undefined)
      .step('closed', 'stream', slow('stream', 30))
      .step('closed', 'transcript', slow('transcript', 1))
      .step('closed', 'record', slow('record', 20))
      .step('in_session', 'record', slow('open-record', 1));
    await lifecycle.run(t('closed'));
    expect(log).toEqual(['stream:start', 'stream:end', 'transcript:start', 'transcript:end', 'record:start', 'record:end']);
    expect(lifecycle.sequence('closed')).toEqual(['stream', 'transcript', 'record']);
  });

  it('a failing step is reported and the steps after it still run', async () => {
    const ran: string[] = [];
    const errors: string[] = [];
    const lifecycle = new HearingLifecycle((_t, step, error) => errors.push(`${step}: ${error.message}`))
      .step('closed', 'stream', () => {
        throw new Error('encoder gone');
      })
      .step('closed', 'record', () => void ran.push('record'))
      .step('closed', 'disconnect', () => void ran.push('disconnect'));
    await lifecycle.run(t('closed'));
    expect(errors).toEqual(['stream: encoder gone']);
    expect(ran).toEqual(['record', 'disconnect']);
  });

  it('never interleaves two sequences of one hearing; other hearings do not wait', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const lifecycle = new HearingLifecycle(() => undefined)
      .step('in_session', 'record', async (x) => {
        log.push(`open ${x.hearingId}`);
        if (x.hearingId === 'h1') await gate;
        log.push(`opened ${x.hearingId}`);
      })
      .step('out_of_session', 'record', (x) => void log.push(`pause ${x.hearingId}`));
    const opening = lifecycle.run(t('open', 'waiting_room'));
    const pausing = lifecycle.run(t('adjourned'));
    await lifecycle.run({ ...t('open', 'waiting_room'), hearingId: 'h2' });
    expect(log).toEqual(['open h1', 'open h2', 'opened h2']);
    release();
    await Promise.all([opening, pausing]);
    expect(log).toEqual(['open h1', 'open h2', 'opened h2', 'opened h1', 'pause h1']);
  });

  it('maps every state to its phase', () => {
    expect(phaseOf('closed')).toBe('closed');
    expect(['open', 'investigation', 'debate', 'final_statement'].map((s) => phaseOf(s as never))).toEqual(Array(4).fill('in_session'));
    expect(phaseOf('adjourned')).toBe('out_of_session');
    expect(phaseOf('waiting_room')).toBe('out_of_session');
  });
});
