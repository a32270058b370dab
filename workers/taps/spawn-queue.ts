/**
 * Spawning a process blocks the spawning Node process for tens of milliseconds. Work that starts many
 * processes at once (a hearing opening with many tracks) queues them here: one spawn per event-loop
 * turn, so sockets, IPC and timers are served in between.
 */
const queue: (() => void)[] = [];

export function queueSpawn(spawnOne: () => void): void {
  queue.push(spawnOne);
  if (queue.length === 1) setImmediate(drain);
}

function drain(): void {
  try {
    queue.shift()?.();
  } finally {
    if (queue.length) setImmediate(drain);
  }
}

/** Runs `start` (which spawns) in its turn of the queue and resolves with its result. */
export function spawnInTurn<T>(start: () => T): Promise<T> {
  return new Promise((resolve, reject) =>
    queueSpawn(() => {
      try {
        resolve(start());
      } catch (error) {
        reject(error as Error);
      }
    }),
  );
}
