import { isInSession, type HearingState } from './state.ts';

/** What a transition means for the hearing's media: which sequence of steps it runs. */
export type Phase = 'in_session' | 'out_of_session' | 'closed';

export const phaseOf = (to: HearingState): Phase => (to === 'closed' ? 'closed' : isInSession(to) ? 'in_session' : 'out_of_session');

export interface Transition {
  hearingId: string;
  from: HearingState;
  to: HearingState;
  actor: string;
}

interface Step {
  name: string;
  run: (t: Transition) => unknown;
}

/**
 * The hearing's lifecycle as explicit, ordered sequences: each transition runs its phase's steps one
 * after the other, each awaited (the transcript is frozen before the record is sealed, the record is
 * sealed before anyone is disconnected). A hearing's sequences never interleave: one that starts while
 * the previous is still running waits for it. A failing step is reported and the next ones still run,
 * so a half-closed hearing never keeps its media or its participants.
 */
export class HearingLifecycle {
  private readonly steps: Record<Phase, Step[]> = { in_session: [], out_of_session: [], closed: [] };
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly onError: (t: Transition, step: string, error: Error) => void) {}

  /** Appends a step to `phase`'s sequence (registration order is execution order). */
  step(phase: Phase, name: string, run: (t: Transition) => unknown): this {
    if (this.steps[phase].some((s) => s.name === name)) throw new Error(`step ${name} is already in the ${phase} sequence`);
    this.steps[phase].push({ name, run });
    return this;
  }

  /** The names of `phase`'s steps, in the order they run. */
  sequence(phase: Phase): string[] {
    return this.steps[phase].map((s) => s.name);
  }

  /** Runs the transition's sequence once every earlier sequence of the hearing has finished. */
  run(t: Transition): Promise<void> {
    const previous = this.running.get(t.hearingId) ?? Promise.resolve();
    const next = previous.then(async () => {
      for (const step of this.steps[phaseOf(t.to)]) {
        try {
          await step.run(t);
        } catch (error) {
          this.onError(t, step.name, error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
    this.running.set(t.hearingId, next);
    void next.finally(() => {
      if (this.running.get(t.hearingId) === next) this.running.delete(t.hearingId);
    });
    return next;
  }
}
