// The PostgreSQL connection of a PgDb (server/store/db.ts), in a worker thread: the main thread waits for
// each statement (synckit), so the Store keeps its synchronous interface over PostgreSQL as over SQLite.
// One connection: statements run one at a time in the order the server issues them, and a transaction's
// statements all go over it. Plain JavaScript: Node 20's worker threads do not get tsx's loader.
import pg from 'pg';
import { runAsWorker } from 'synckit';

// BIGINT (audit sequence numbers, COUNT(*)) as numbers, as SQLite gives them (exact below 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** @type {pg.Client | undefined} */
let client;

runAsWorker(
  /** @param {import('./db.ts').PgRequest} request */
  async (request) => {
    if (request.op === 'connect') {
      client = new pg.Client({ connectionString: request.url, connectionTimeoutMillis: 5000, application_name: 'hearing-media-core' });
      // A connection lost later is an error of the statement that finds it so (the server reports it).
      client.on('error', () => undefined);
      await client.connect();
      return { rows: [], rowCount: 0 };
    }
    if (request.op === 'close') {
      await client?.end().catch(() => undefined);
      client = undefined;
      return { rows: [], rowCount: 0 };
    }
    if (!client) throw new Error('PostgreSQL: not connected');
    const out = await client.query(request.sql, request.values);
    // Several statements (a migration) answer with one result each: the last one stands for them.
    const result = Array.isArray(out) ? out[out.length - 1] : out;
    return { rows: result?.rows ?? [], rowCount: result?.rowCount ?? 0 };
  },
);
