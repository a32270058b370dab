// The two databases behind the Store: SQLite (the embedded default, one file in the data folder) and
// PostgreSQL (HEARING_DATABASE_URL: one store shared by the nodes of a cluster). The Store writes one
// SQL for both: `?` or `@name` parameters, double-quoted identifiers, `ON CONFLICT`, `RETURNING`,
// `CAST(... AS INTEGER)`; each database gets its own schema migrations (server/store/migrations.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSyncFn } from 'synckit';
import { redact } from '../app/redact.ts';
import { MIGRATIONS, PG_MIGRATIONS } from './migrations.ts';

/** What the worker (server/store/pg-worker.mjs) is asked, and what it answers. */
export type PgRequest = { op: 'connect'; url: string } | { op: 'query'; sql: string; values: unknown[] } | { op: 'close' };
export interface PgReply {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** Positional (`?`) or named (`@name`) parameters. */
export type Params = unknown[] | object;

export interface Db {
  readonly kind: 'sqlite' | 'postgres';
  run(sql: string, params?: Params): { changes: number };
  get<T>(sql: string, params?: Params): T | undefined;
  all<T>(sql: string, params?: Params): T[];
  /** Runs `fn` in one transaction (its statements all or none). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export class SqliteDb implements Db {
  readonly kind = 'sqlite';
  readonly raw: Database.Database;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.raw = new Database(path.join(dataDir, 'hearings.sqlite'));
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('foreign_keys = ON');
    // Deleted content is overwritten, not left in free pages (ID numbers of an older store, see scrubIdNumbers).
    this.raw.pragma('secure_delete = ON');
    const applied = this.raw.pragma('user_version', { simple: true }) as number;
    for (let i = applied; i < MIGRATIONS.length; i++) {
      this.raw.transaction(() => {
        this.raw.exec(MIGRATIONS[i] as string);
        this.raw.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  private args(params?: Params): unknown[] {
    return params === undefined ? [] : Array.isArray(params) ? params : [params];
  }

  run(sql: string, params?: Params): { changes: number } {
    return { changes: this.raw.prepare(sql).run(...this.args(params)).changes };
  }

  get<T>(sql: string, params?: Params): T | undefined {
    return this.raw.prepare(sql).get(...this.args(params)) as T | undefined;
  }

  all<T>(sql: string, params?: Params): T[] {
    return this.raw.prepare(sql).all(...this.args(params)) as T[];
  }

  transaction<T>(fn: () => T): T {
    return this.raw.transaction(fn)();
  }

  close(): void {
    this.raw.close();
  }
}

/** `?` and `@name` parameters as PostgreSQL's `$1…`, with the values in that order (undefined as NULL). */
export function toPostgres(sql: string, params?: Params): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  let positional = 0;
  const named = new Map<string, number>();
  // Parameters outside quoted strings only (the SQL here has no `?` or `@` inside its literals).
  const text = sql.replace(/\?|@([A-Za-z_][A-Za-z0-9_]*)/g, (match, name: string | undefined) => {
    if (match === '?') {
      if (!Array.isArray(params)) throw new Error('positional parameter without a list of values');
      values.push(params[positional++] ?? null);
      return `$${values.length}`;
    }
    if (!params || Array.isArray(params)) throw new Error(`named parameter @${name} without an object of values`);
    let n = named.get(name!);
    if (n === undefined) {
      values.push((params as Record<string, unknown>)[name!] ?? null);
      n = values.length;
      named.set(name!, n);
    }
    return `$${n}`;
  });
  return { sql: text, values: values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v)) };
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pg-worker.mjs');

export class PgDb implements Db {
  readonly kind = 'postgres';
  private readonly call: (request: PgRequest) => PgReply;
  private depth = 0;

  /** Connects (a PostgreSQL that cannot be reached throws with the reason) and brings the schema up to date. */
  constructor(url: string) {
    this.call = createSyncFn<(request: PgRequest) => Promise<PgReply>>(WORKER, { timeout: 30_000 });
    try {
      this.call({ op: 'connect', url });
    } catch (error) {
      throw new Error(`cannot reach PostgreSQL at ${redact(url)}: ${(error as Error).message}`, { cause: error });
    }
    this.migrate();
  }

  private migrate(): void {
    // Nodes starting together: one migrates, the others wait for its lock and find the work done (the lock
    // comes first: two CREATE TABLE IF NOT EXISTS at once can both try to create the table).
    this.transaction(() => {
      this.query('SELECT pg_advisory_xact_lock(7231604)');
      this.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      const done = new Set(this.query('SELECT version FROM schema_migrations').rows.map((r) => Number(r.version)));
      PG_MIGRATIONS.forEach((sql, i) => {
        if (done.has(i + 1)) return;
        this.query(sql);
        this.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [i + 1, new Date().toISOString()]);
      });
    });
  }

  private query(sql: string, values: unknown[] = []): PgReply {
    const reply = this.call({ op: 'query', sql, values });
    // BYTEA arrives from the worker as a Uint8Array (a Buffer does not survive the copy between threads).
    for (const row of reply.rows)
      for (const [k, v] of Object.entries(row))
        if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return reply;
  }

  run(sql: string, params?: Params): { changes: number } {
    const q = toPostgres(sql, params);
    return { changes: this.query(q.sql, q.values).rowCount };
  }

  get<T>(sql: string, params?: Params): T | undefined {
    const q = toPostgres(sql, params);
    return this.query(q.sql, q.values).rows[0] as T | undefined;
  }

  all<T>(sql: string, params?: Params): T[] {
    const q = toPostgres(sql, params);
    return this.query(q.sql, q.values).rows as T[];
  }

  transaction<T>(fn: () => T): T {
    // Nested calls join the outer transaction (as better-sqlite3's savepoints would, without the savepoint).
    if (this.depth > 0) return fn();
    this.query('BEGIN');
    this.depth++;
    try {
      const out = fn();
      this.query('COMMIT');
      return out;
    } catch (error) {
      try {
        this.query('ROLLBACK');
      } catch {
        // the connection is gone: the transaction went with it
      }
      throw error;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    try {
      this.call({ op: 'close' });
    } catch {
      // already gone
    }
  }
}
