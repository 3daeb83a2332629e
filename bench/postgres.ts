// A throwaway PostgreSQL database per run, created and dropped on the server BENCH_DATABASE_URL
// names. Every connection and statement is bounded so an unresponsive server cannot hang the run.
import pg from "pg";

const clientOptions = { connectionTimeoutMillis: 5_000, query_timeout: 30_000 };

async function withClient<T>(serverUrl: string, use: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({ connectionString: serverUrl, ...clientOptions });
  // A server that goes away mid-statement must not crash the run.
  client.on("error", () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why the server cannot be used, or null when it answers. */
export async function postgresUnavailable(serverUrl: string): Promise<string | null> {
  try {
    await withClient(serverUrl, (client) => client.query("SELECT 1"));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Creates database `name` and returns its URL (the server URL with the path replaced). */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${quote(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`),
  );
}
