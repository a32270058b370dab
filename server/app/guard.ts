/**
 * The last line of defence: an error that escapes every handler (an unhandled rejection, an uncaught
 * exception from an event callback) would end the process and with it every hearing on this server —
 * their media, record and transcript at once. The guard logs it with its stack and counts it
 * (`hearing_process_faults_total`) instead; the code paths themselves handle what they can foresee (a
 * producer that closed meanwhile, a child whose pipe broke), and each fault counted here is a bug to fix.
 */
let faults = 0;
let installed = false;

export const processFaults = (): number => faults;

export function installProcessGuard(log: (kind: string, error: unknown) => void = defaultLog): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    faults++;
    log('unhandled rejection', reason);
  });
  process.on('uncaughtException', (error) => {
    faults++;
    log('uncaught exception', error);
  });
}

function defaultLog(kind: string, error: unknown): void {
  console.error(`[server] ${kind} (contained, the server stays up):`, error instanceof Error ? (error.stack ?? error.message) : error);
}
