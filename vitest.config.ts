import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Tests that start no browser and spend little CPU (REST, signaling, the store, unit tests, the record's
 * files): one at a time beside the media tests, which run one at a time too (real mediasoup workers,
 * Chromium, encoders: on 2 cores, two of them at once would measure each other).
 */
const LIGHT = [
  'test/unit/!(segment-muxer).test.ts',
  'test/asr-parser.test.ts',
  'test/cluster-address.test.ts',
  'test/evidence.test.ts',
  'test/insider-matrix.test.ts',
  'test/livestream-publisher.test.ts',
  'test/livestream-text.test.ts',
  'test/proxy.test.ts',
  'test/record-control.test.ts',
  'test/record-integrity.test.ts',
  'test/rest-api.test.ts',
  'test/resume.test.ts',
  'test/rtp-path.test.ts',
  'test/rtp-reorder.test.ts',
  'test/signaling.test.ts',
  'test/sip-kamailio.test.ts',
  'test/store.test.ts',
  'test/transcript-edits.test.ts',
  'test/transcript-signing.test.ts',
  'test/trust.test.ts',
  'test/witness.test.ts',
  'test/worker-patches.test.ts',
];

/**
 * The media lane begins with its files that load the machine least (one page or none, no encoder of
 * many streams), about as long together as the light lane that runs beside them (3 minutes); the
 * hearings of many pages come after, on a machine they then have to themselves (the courtroom app's and
 * the consultation's pages went without media for 30 s when they ran beside the light lane).
 */
const MEDIA_FIRST = [
  'test/sip-gateway.test.ts',
  'test/unit/segment-muxer.test.ts',
  'test/identity-enroll.test.ts',
  'test/asr-whisper.test.ts',
  'test/worker-death.test.ts',
  'test/bots.test.ts',
  'test/record-crash.test.ts',
  'test/embed.test.ts',
  'test/browser-hearing.test.ts',
];

class LightBesideLight extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = MEDIA_FIRST.indexOf(path.relative(import.meta.dirname, f.moduleId));
      return i < 0 ? MEDIA_FIRST.length : i;
    };
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

/** Each lane runs its files one after another, each in a fork of its own; `scripts/test.mjs` runs the two lanes at once. */
const oneAtATime = { pool: 'forks' as const, fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    ...oneAtATime,
    // Checks the fixtures, marks the lane's processes and names any left running at its end.
    globalSetup: ['test/global-setup.ts'],
    sequence: { sequencer: LightBesideLight },
    projects: [
      { extends: true, test: { name: 'media', include: ['test/**/*.test.ts'], exclude: LIGHT } },
      // Its servers take their ports from ranges of their own (test/helpers/server.ts).
      { extends: true, test: { name: 'light', include: LIGHT, env: { HEARING_TEST_LANE: 'light' } } },
    ],
  },
});
