// The PostgreSQL connection of a PgDb (server/store/db.ts), in a worker thread: the main thread waits for
// each statement (synckit), so the Store keeps its synchronous interface over PostgreSQL as over SQLite.
// One connection: statements run one at a time in the order the server issues them, and a transaction's
// statements all go over it. A connection that is lost (PostgreSQL restarted, a network cut) fails the
// statement that finds it so, and the next statement connects again: nothing is sent twice (a statement
// whose answer was lost may have run). Plain JavaScript: Node 20's worker threads do not get tsx's loader.
import pg from 'pg';
import { runAsWorker } from 'synckit';

// BIGINT (audit sequence numbers, COUNT(*)) as numbers, as SQLite gives them (exact below 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** @type {string | undefined} */
let url;
/** @type {pg.Client | undefined} */
let client;

async function connect() {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'hearing-media-core' });
  // Lost later: dropped here, so that the next statement connects again.
  const lost = () => {
    if (client === c) client = undefined;
  };
  c.on('error', lost);
  c.on('end', lost);
  await c.connect();
  client = c;
}

runAsWorker(
  /** @param {import('./db.ts').PgRequest} request */
  async (request) => {
    if (request.op === 'connect') {
      url = request.url;
      await connect();
      return { rows: [], rowCount: 0 };
    }
    if (request.op === 'close') {
      const c = client;
      client = undefined;
      url = undefined;
      await c?.end().catch(() => undefined);
      return { rows: [], rowCount: 0 };
    }
    if (!url) throw new Error('PostgreSQL: not connected');
    if (!client) await connect();
    const out = await client.query(request.sql, request.values);
    // Several statements (a migration) answer with one result each: the last one stands for them.
    const result = Array.isArray(out) ? out[out.length - 1] : out;
    return { rows: result?.rows ?? [], rowCount: result?.rowCount ?? 0 };
  },
);
