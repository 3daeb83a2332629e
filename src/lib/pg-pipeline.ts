// The request hot path's statements on PostgreSQL: a few dedicated connections in pg's pipeline
// mode, so statements from concurrent requests share socket writes and server wake-ups.
//
// Why: with one statement per pooled connection and round trip, every statement costs the Node
// process a socket write that has to wake a PostgreSQL backend; on small (virtualised) machines
// that write is the most expensive part of a simple statement. In pipeline mode a connection
// takes the next statement before the previous one is answered; all statements handed to one
// connection during one turn of the event loop leave in a single write (the socket is corked
// until setImmediate), and the backend answers them back to back. Each statement still has its
// own Sync, so one failing statement fails alone.
//
// Only for short, independent, read-mostly statements outside transactions: a slow statement
// delays those queued behind it on the same connection.
import { createHash } from "node:crypto";
import pg from "pg";

export type PipelineOptions = {
  connectionString: string;
  /** Pipelined connections; statements go to the one with the fewest outstanding. */
  connections: number;
  connectionTimeoutMillis: number;
};

type Slot = {
  client: pg.Client;
  ready: Promise<pg.Client>;
  outstanding: number;
  corked: boolean;
  dead: boolean;
};

export class PipelinedQueries {
  readonly #options: PipelineOptions;
  readonly #slots: (Slot | null)[];
  readonly #statementNames = new Map<string, string>();
  #closed = false;

  constructor(options: PipelineOptions) {
    if (!(options.connections >= 1)) throw new TypeError("connections must be at least 1");
    this.#options = options;
    this.#slots = new Array<Slot | null>(options.connections).fill(null);
  }

  async query<Row>(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const slot = this.#pick();
    slot.outstanding++;
    try {
      const client = await slot.ready;
      if (slot.dead) throw new Error("the database connection was lost");
      if (!slot.corked) {
        // Everything handed to this connection until the event loop's check phase leaves in one
        // write; pg's own cork/uncork per statement nests inside this one.
        slot.corked = true;
        const stream = socketOf(client);
        stream.cork();
        setImmediate(() => {
          slot.corked = false;
          stream.uncork();
        });
      }
      const result = await client.query({
        name: this.#statementName(sql),
        text: sql,
        values: params as unknown[],
      });
      return result.rows as Row[];
    } finally {
      slot.outstanding--;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0).filter((s): s is Slot => s !== null);
    await Promise.all(slots.map((slot) => slot.client.end().catch(() => {})));
  }

  // Prepared once per connection under a name derived from the text; callers pass constant SQL.
  #statementName(sql: string): string {
    let name = this.#statementNames.get(sql);
    if (!name) {
      name = `kp_${createHash("sha256").update(sql).digest("hex").slice(0, 24)}`;
      this.#statementNames.set(sql, name);
    }
    return name;
  }

  #pick(): Slot {
    if (this.#closed) throw new Error("the database is closed");
    let best: Slot | null = null;
    for (let index = 0; index < this.#slots.length; index++) {
      let slot = this.#slots[index] ?? null;
      if (!slot) {
        slot = this.#open(index);
        this.#slots[index] = slot;
      }
      if (slot.outstanding === 0) return slot;
      if (!best || slot.outstanding < best.outstanding) best = slot;
    }
    return best as Slot;
  }

  #open(index: number): Slot {
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#options.connectionTimeoutMillis,
      pipeline: true,
    } as pg.ClientConfig);
    const slot: Slot = {
      client,
      ready: Promise.resolve(client),
      outstanding: 0,
      corked: false,
      dead: false,
    };
    // A lost or failed connection is dropped; the next statement opens a fresh one. pg fails
    // the statements that were outstanding on it.
    const drop = () => {
      slot.dead = true;
      if (this.#slots[index] === slot) this.#slots[index] = null;
    };
    client.on("error", drop);
    client.on("end", drop);
    slot.ready = client.connect().then(
      () => client,
      (error: unknown) => {
        drop();
        client.end().catch(() => {});
        throw error;
      },
    );
    return slot;
  }
}

function socketOf(client: pg.Client): { cork(): void; uncork(): void } {
  return (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } })
    .connection.stream;
}
