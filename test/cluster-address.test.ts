// Where a node sends a participant whose hearing another node holds: that node's public address, with
// the path it is published under (a node behind a reverse proxy keeps its prefix).
import { describe, expect, it } from 'vitest';
import { atAddress } from '../server/cluster/routes.ts';

describe('the address of another node', () => {
  it('keeps the path the other node is published under, and the query', () => {
    expect(atAddress('https://court.example/hearing', '/join?token=a.b.c')).toBe('https://court.example/hearing/join?token=a.b.c');
    expect(atAddress('https://court.example/hearing/', '/watch/h1')).toBe('https://court.example/hearing/watch/h1');
    expect(atAddress('http://10.0.0.12:8443', '/live/h1/index.m3u8')).toBe('http://10.0.0.12:8443/live/h1/index.m3u8');
    // A path of the request never takes the other node's origin away.
    expect(atAddress('https://node-b.court.example', '//evil.example/join?token=x')).toMatch(/^https:\/\/node-b\.court\.example\//);
  });
});
