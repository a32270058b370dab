// What a person's clicks do: set by main.ts once the session exists; every failure is shown.
import type { Session } from './session.ts';
import type { SignalingClient } from './signaling.ts';
import { setStatus } from './ui.ts';

export interface Actions {
  session: Session;
  signaling: SignalingClient;
  /** The participant's token, for the REST routes a participant may call (evidence). */
  token: string;
  /** The device check is done: join with this stream (none for a role that does not publish). */
  join: (stream: MediaStream | null) => void;
}

let current: Actions | undefined;

export function setActions(a: Actions): void {
  current = a;
}

export function actions(): Actions {
  if (!current) throw new Error('not ready');
  return current;
}

/** Runs a person's action; a refusal or error is shown in the status line instead of being lost. */
export function run(action: (a: Actions) => Promise<unknown>): void {
  void action(actions()).catch((error: Error) => setStatus('status.failed', { error: error.message }));
}
