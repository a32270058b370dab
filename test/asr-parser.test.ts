import { describe, expect, it } from 'vitest';
import { PocketsphinxParser } from '../workers/transcript/pocketsphinx.ts';

describe('pocketsphinx output parsing', () => {
  it('turns hypothesis and word-time lines into utterances in stream seconds', () => {
    const parser = new PocketsphinxParser();
    const lines = [
      'he was not an ill disposed young man',
      '<s> 9.990 10.090 1.000200',
      'he 10.330 10.430 0.999700',
      'was(2) 10.440 10.660 0.5',
      '<sil> 10.670 10.700 0.9',
      'man 12.450 12.840 0.931175',
      '</s> 12.850 13.210 1.000000',
    ];
    const out = lines.map((l) => parser.line(l)).filter(Boolean);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ startSec: 10.33, endSec: 12.84, text: 'he was not an ill disposed young man' });
    expect(out[0]!.words.map((w) => w.word)).toEqual(['he', 'was', 'man']);
    expect(out[0]!.confidence).toBeCloseTo((0.9997 + 0.5 + 0.931175) / 3, 3);
    // An utterance with no words (silence only) yields nothing.
    expect(['', '<s> 1.0 1.1 1.0', '</s> 1.2 1.3 1.0'].map((l) => parser.line(l)).filter(Boolean)).toEqual([]);
  });
});
