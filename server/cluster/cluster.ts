// Cluster mode (HEARING_REDIS_URL): every node runs the same server; Redis holds which nodes are alive,
// their load, and which node hosts which hearing. A hearing lives on one node (its router, record,
// transcript and store rows); any node takes REST calls and join links for it and sends them there
// (server/cluster/routes.ts).
//
// Keys (prefix `hmc:`):
//   nodes                  set of node ids that registered (pruned when their hash expired)
//   node:<id>              hash: url, publicUrl, hearings (placed and not closed), draining, load (JSON);
//                          expires unless the node refreshes it (every HEARTBEAT_MS, TTL_MS)
//   node:<id>:hearings     set of the hearing ids the node hosts (kept after the node's entry expired: a
//                          live node re-places what a lost node hosted, see `reap`)
//   reaping:<id>           which live node is re-placing a lost node's hearings (a short lock)
//   hearing:<hearingId>    the id of the node hosting it (removed when the hearing closes)
// The `hearings` count is Redis's own: a placement adds one atomically (a Lua script picks the node
// and counts the hearing in one step, so two nodes placing at once do not both pick the same idle
// node), a failed creation and a closed hearing take it back; a node that registers (first start, or
// after Redis lost its keys) writes its real count and re-asserts every hearing it hosts.
import { Redis } from 'ioredis';
import { redact } from '../app/redact.ts';

export const HEARTBEAT_MS = 2000;
export const TTL_MS = 6000;
/**
 * How often a node looks for lost nodes' hearings to place again (apart from its heartbeat: a lost node
 * is noticed within a second of its entry expiring).
 */
export const REAP_MS = 1000;
const P = 'hmc:';

export interface NodeLoad {
  /** Hearings on the node that are not closed. */
  hearings: number;
  /** Hearings with media (a router) now. */
  routers: number;
  transports: number;
  /** Galleries of other nodes' hearings served here, and their viewers (server/cluster/gallery.ts). */
  galleries: number;
  galleryViewers: number;
  workers: number;
  /** Share of the node's cores its server and media workers used over the last heartbeat (0–1). */
  cpu: number;
}

export interface ClusterNode {
  id: string;
  /** Where the other nodes reach it (REST calls they pass on). */
  url: string;
  /** Where participants reach it (join links). */
  publicUrl: string;
  draining: boolean;
  load: NodeLoad;
  hearings: string[];
}

export interface ClusterOptions {
  redisUrl: string;
  nodeId: string;
  url: string;
  publicUrl: string;
  /** This node's load now (sampled at each heartbeat). */
  load: () => Promise<NodeLoad>;
  /** The hearings this node hosts (not closed), from its store. */
  hosted: () => string[];
  /**
   * Shared store only: moves a lost node's hearing to `target` (this node or another); resolves whether
   * it moved. Without it, a lost node's hearings stay routed to it until it comes back.
   */
  moveTo?: (target: { id: string; url: string }, hearingId: string, from: string) => Promise<boolean>;
  log?: (line: string) => void;
}

const PLACE = `
local best, bestN, bestCpu
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'url', 'draining', 'hearings', 'cpu')
  if f[1] and f[2] ~= '1' then
    local n, cpu = tonumber(f[3] or '0'), tonumber(f[4] or '0')
    if best == nil or n < bestN or (n == bestN and (cpu < bestCpu or (cpu == bestCpu and id < best))) then
      best, bestN, bestCpu = id, n, cpu
    end
  end
end
if best then redis.call('HINCRBY', ARGV[1] .. best, 'hearings', 1) end
return best
`;

const RECOUNT = `
local n = tonumber(redis.call('HGET', KEYS[1], 'hearings') or '0')
local s = redis.call('SCARD', KEYS[2])
if s > n then redis.call('HSET', KEYS[1], 'hearings', s) end
return 0
`;

export class Cluster {
  readonly nodeId: string;
  private readonly redis: Redis;
  private timer?: NodeJS.Timeout;
  private reaper?: NodeJS.Timeout;
  private reaping = false;
  private draining = false;
  private registered = false;
  private closed = false;
  private beating?: Promise<void>;
  private lastError?: string;
  /** The live nodes' public addresses as of the last heartbeat (where a page looks for its hearing when its node is gone). */
  private publicUrls: string[] = [];

  private constructor(private readonly o: ClusterOptions) {
    this.nodeId = o.nodeId;
    // Commands wait while Redis is away (it restarts, the nodes re-register); a call that cannot be
    // answered within a few seconds fails rather than hang a REST request.
    this.redis = new Redis(o.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      connectTimeout: 5000,
    });
    this.redis.defineCommand('place', { numberOfKeys: 1, lua: PLACE });
    // Logged once per kind of trouble, not at every retry while Redis is away.
    this.redis.on('error', (error: Error) => {
      if (error.message !== this.lastError) this.o.log?.(`[cluster] redis: ${error.message}`);
      this.lastError = error.message;
    });
    this.redis.on('ready', () => (this.lastError = undefined));
  }

  /** Connects and registers this node; a Redis that cannot be reached at start stops the server with a clear error. */
  static async start(o: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(o);
    try {
      await c.redis.connect();
    } catch (error) {
      c.redis.disconnect();
      throw new Error(`cluster: cannot reach Redis at ${redact(o.redisUrl)}: ${c.lastError ?? (error as Error).message}`, {
        cause: error,
      });
    }
    await c.heartbeat();
    c.timer = setInterval(() => void c.heartbeat(), HEARTBEAT_MS);
    c.timer.unref();
    if (o.moveTo) {
      c.reaper = setInterval(() => void c.reapOnce(), REAP_MS);
      c.reaper.unref();
    }
    return c;
  }

  /** Refreshes this node's entry; writes everything again when Redis had lost it (a restart, an expiry). */
  heartbeat(): Promise<void> {
    this.beating ??= this.beat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    const key = `${P}node:${this.nodeId}`;
    try {
      const load = await this.o.load();
      const known = (await this.redis.hexists(key, 'url')) === 1;
      const m = this.redis.multi();
      m.hset(key, {
        // When, by Redis's clock (the nodes' own clocks may differ): see `gone`.
        at: String(await this.now()),
        url: this.o.url,
        publicUrl: this.o.publicUrl,
        draining: this.draining ? '1' : '0',
        cpu: load.cpu.toFixed(3),
        load: JSON.stringify(load),
      });
      if (!known) {
        const hosted = this.o.hosted();
        m.hset(key, { hearings: String(hosted.length) });
        m.del(`${key}:hearings`);
        if (hosted.length) m.sadd(`${key}:hearings`, ...hosted);
        for (const id of hosted) m.set(`${P}hearing:${id}`, this.nodeId);
      }
      // Hearings created here without a placement (the demo hearing) count too.
      else m.eval(RECOUNT, 2, key, `${key}:hearings`);
      m.sadd(`${P}nodes`, this.nodeId);
      m.pexpire(key, TTL_MS);
      await m.exec();
      if (!known) this.o.log?.(`[cluster] node ${this.nodeId} ${this.registered ? 're-registered' : 'registered'} (${this.o.url})`);
      this.registered = true;
    } catch (error) {
      this.o.log?.(`[cluster] heartbeat failed: ${(error as Error).message}`);
    }
    this.publicUrls = await this.nodes().then(
      (all) => all.map((n) => n.publicUrl),
      () => this.publicUrls,
    );
  }

  /**
   * A node whose entry expired (killed, cut off) while it still hosted hearings: one live node (the first
   * to take the lock) places each of them again and moves it there. A node that left cleanly with
   * hearings not in session (it drained) has them moved the same way.
   */
  private async reapOnce(): Promise<void> {
    if (this.reaping || this.closed || this.draining || !this.registered) return;
    this.reaping = true;
    await this.reap()
      .catch((error: Error) => this.o.log?.(`[cluster] re-placing: ${error.message}`))
      .finally(() => (this.reaping = false));
  }

  /** Redis's clock, in ms. */
  private async now(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * Whether a node whose entry has not expired yet is certainly gone: it missed its last heartbeat, it is
   * not leaving cleanly, and its address refuses connections (its process is not there: a killed node
   * is found within about three seconds instead of the entry's six). A node that is only slow or cut
   * off does not refuse connections, and one that beats on is never taken for gone.
   */
  private async gone(id: string): Promise<boolean> {
    const [url, at, closing] = await this.redis.hmget(`${P}node:${id}`, 'url', 'at', 'closing');
    if (!url || closing === '1' || !at || (await this.now()) - Number(at) < HEARTBEAT_MS + 500) return false;
    try {
      await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(1000) });
      return false;
    } catch (error) {
      if ((error as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') return false;
    }
    // Gone for everybody at once (routing, placement, the adopt check), as if its entry had expired.
    await this.redis.del(`${P}node:${id}`);
    this.o.log?.(`[cluster] node ${id} missed its heartbeat and refuses connections at ${url}: it is gone`);
    return true;
  }

  private async reap(): Promise<void> {
    for (const id of await this.redis.smembers(`${P}nodes`)) {
      if (id === this.nodeId) continue;
      if ((await this.redis.exists(`${P}node:${id}`)) && !(await this.gone(id))) continue;
      const left = await this.redis.smembers(`${P}node:${id}:hearings`);
      if (left.length === 0) {
        await this.redis.multi().srem(`${P}nodes`, id).del(`${P}node:${id}:hearings`).exec();
        continue;
      }
      if ((await this.redis.set(`${P}reaping:${id}`, this.nodeId, 'PX', 20_000, 'NX')) !== 'OK') continue;
      try {
        this.o.log?.(`[cluster] node ${id} is gone with ${left.length} hearing(s): placing them again`);
        for (const hearingId of left) {
          const target = await this.place();
          const node = target ? (await this.nodes()).find((n) => n.id === target) : undefined;
          if (!target || !node) {
            if (target) await this.unplace(target);
            this.o.log?.(`[cluster] no node takes hearing ${hearingId} of ${id} now`);
            break;
          }
          const moved = await this.o.moveTo!({ id: node.id, url: node.url }, hearingId, id).catch((error: Error) => {
            this.o.log?.(`[cluster] moving hearing ${hearingId} to ${node.id}: ${error.message}`);
            return false;
          });
          if (!moved) {
            await this.unplace(node.id);
            continue;
          }
          await this.redis.srem(`${P}node:${id}:hearings`, hearingId);
          this.o.log?.(`[cluster] hearing ${hearingId} moved from ${id} to ${node.id}`);
        }
      } finally {
        await this.redis.del(`${P}reaping:${id}`);
      }
    }
  }

  /** Picks the live, not draining node with the fewest hearings (then the least busy) and counts the new hearing there. */
  async place(): Promise<string | undefined> {
    const id = (await (this.redis as unknown as { place: (k: string, p: string) => Promise<string | null> }).place(
      `${P}nodes`,
      `${P}node:`,
    )) as string | null;
    return id ?? undefined;
  }

  /** Takes back a placement whose creation failed on the chosen node. */
  async unplace(nodeId: string): Promise<void> {
    await this.redis.hincrby(`${P}node:${nodeId}`, 'hearings', -1);
  }

  /** This node now hosts the hearing (created here). */
  async hosting(hearingId: string): Promise<void> {
    const key = `${P}node:${this.nodeId}`;
    await this.redis.multi().set(`${P}hearing:${hearingId}`, this.nodeId).sadd(`${key}:hearings`, hearingId).exec();
  }

  /** The hearing closed here: no longer counted nor routed. */
  async released(hearingId: string): Promise<void> {
    const key = `${P}node:${this.nodeId}`;
    await this.redis.multi().del(`${P}hearing:${hearingId}`).srem(`${key}:hearings`, hearingId).hincrby(key, 'hearings', -1).exec();
  }

  /** The node hosting a hearing, if Redis knows it (alive or not: `alive` tells). */
  async ownerOf(hearingId: string): Promise<{ id: string; url?: string; publicUrl?: string; alive: boolean } | undefined> {
    const id = await this.redis.get(`${P}hearing:${hearingId}`);
    if (!id) return undefined;
    const [url, publicUrl] = await this.redis.hmget(`${P}node:${id}`, 'url', 'publicUrl');
    return { id, alive: Boolean(url), ...(url ? { url } : {}), ...(publicUrl ? { publicUrl } : {}) };
  }

  /** Every live node with its load and hearings. */
  async nodes(): Promise<ClusterNode[]> {
    const ids = (await this.redis.smembers(`${P}nodes`)).sort();
    // Two round trips whatever the number of nodes: the members, then every node's entry and hearings at once.
    const m = this.redis.pipeline();
    for (const id of ids) m.hgetall(`${P}node:${id}`).smembers(`${P}node:${id}:hearings`);
    const replies = (await m.exec()) ?? [];
    const out: ClusterNode[] = [];
    for (const [i, id] of ids.entries()) {
      const [hashError, hash] = replies[2 * i] ?? [];
      const [setError, set] = replies[2 * i + 1] ?? [];
      if (hashError || setError) throw hashError ?? setError;
      const h = hash as Record<string, string>;
      if (!h.url) continue;
      const hearings = (set as string[]).sort();
      out.push({
        id,
        url: h.url,
        publicUrl: h.publicUrl ?? h.url,
        draining: h.draining === '1',
        load: { ...(JSON.parse(h.load ?? '{}') as NodeLoad), hearings: Number(h.hearings ?? 0) },
        hearings,
      });
    }
    return out;
  }

  /** Whether a node's entry is in Redis (it has sent a heartbeat within the expiry). */
  async alive(nodeId: string): Promise<boolean> {
    return (await this.redis.exists(`${P}node:${nodeId}`)) === 1;
  }

  /** The live nodes' public addresses (as of the last heartbeat). */
  get doors(): string[] {
    return this.publicUrls;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** No new hearing is placed here from now on (the node's entry says so at once). */
  async drain(): Promise<void> {
    this.draining = true;
    await this.redis.hset(`${P}node:${this.nodeId}`, 'draining', '1');
  }

  /**
   * The node is stopping cleanly: its address will soon refuse connections, but it still writes its
   * records; nobody takes its hearings over before it has left (`close`).
   */
  async leaving(): Promise<void> {
    // Nor is anything new placed here (a hearing, a gallery).
    this.draining = true;
    await this.redis.hset(`${P}node:${this.nodeId}`, { closing: '1', draining: '1' }).catch(() => undefined);
  }

  /** Leaves the cluster: the node's entry goes at once (its hearings stay routed to it until they close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reaper) clearInterval(this.reaper);
    await this.beating;
    try {
      // Hearings it still hosts (scheduled or adjourned ones after a drain) stay listed for a live node to
      // take over; with none, the node leaves no trace.
      const key = `${P}node:${this.nodeId}`;
      const m = this.redis.multi().del(key);
      if (this.o.hosted().length === 0) m.del(`${key}:hearings`).srem(`${P}nodes`, this.nodeId);
      await m.exec();
    } catch {
      // Redis away: the entry expires by itself.
    }
    this.redis.disconnect();
  }
}
