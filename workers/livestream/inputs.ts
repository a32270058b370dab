// Inputs of the public program that deliver nothing: a camera that died without its producer closing, a
// phone whose uplink froze. One silent RTP input holds the whole ffmpeg composition up (its filters wait
// for that input's next frame), so such inputs are left out of the program until their bytes flow again.
import type { MediaRoom } from '../media/room.ts';

async function bytesOf(room: MediaRoom, producerId: string): Promise<number | null> {
  const producer = room.findProducer(producerId);
  if (!producer || producer.closed) return null;
  const stats = await producer.getStats().catch(() => []);
  return stats.reduce((n, s) => n + s.byteCount, 0);
}

export class SilentInputs {
  /** Producers left out, with their byte count when they were. */
  private readonly left = new Map<string, number>();

  has(producerId: string): boolean {
    return this.left.has(producerId);
  }

  get size(): number {
    return this.left.size;
  }

  /** Of `producerIds`, those that received nothing during `windowMs`: they are left out from now on. */
  async findSilent(room: MediaRoom, producerIds: string[], windowMs = 1000): Promise<string[]> {
    const before = await Promise.all(producerIds.map((id) => bytesOf(room, id)));
    await new Promise((r) => setTimeout(r, windowMs));
    const after = await Promise.all(producerIds.map((id) => bytesOf(room, id)));
    const silent: string[] = [];
    producerIds.forEach((id, i) => {
      if (before[i] === null || after[i] !== before[i]) return;
      this.left.set(id, after[i]!);
      silent.push(id);
    });
    return silent;
  }

  /** Left-out producers that deliver again: they are taken back (closed ones are simply forgotten). */
  async returned(room: MediaRoom): Promise<string[]> {
    const back: string[] = [];
    for (const [id, bytes] of this.left) {
      const now = await bytesOf(room, id);
      if (now !== null && now === bytes) continue;
      this.left.delete(id);
      if (now !== null) back.push(id);
    }
    return back;
  }
}
