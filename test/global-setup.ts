import fs from 'node:fs';
import { FACES_DIR, PEOPLE } from './helpers/faces.ts';

/**
 * The suite needs shared/fixtures beside the project (the identity tests compare real faces): without
 * it the whole run fails here, loudly, instead of any test being skipped or passing on nothing.
 */
export default function checkFixtures(): void {
  const missing = PEOPLE.flatMap((p) => [1, 2, 3, 4, 5].map((i) => `${p}${i}.png`)).filter((f) => !fs.existsSync(`${FACES_DIR}/${f}`));
  if (missing.length) {
    throw new Error(`test fixtures missing in ${FACES_DIR}: ${missing.join(', ')} (the suite runs with shared/ beside the project)`);
  }
}
