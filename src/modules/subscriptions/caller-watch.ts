// Re-checks the callers of running subscriptions: a revoked API key, an expired JWT or an
// expired (or shortened) connect session ends its streams within one interval. One query per interval per instance covers every stream, however
// many there are (the revoked keys among those in use).
import type { Caller, Services } from "../../context.js";
import type { EndReason } from "./stream.js";

type Watched = {
  caller: Caller;
  end(reason: EndReason, message: string): void;
};

const watchers = new WeakMap<Services, CallerWatch>();

export function callerWatchOf(services: Services): CallerWatch {
  let watch = watchers.get(services);
  if (!watch) {
    watch = new CallerWatch(services);
    watchers.set(services, watch);
  }
  return watch;
}

const liveKeysSql = `SELECT "id" FROM "ApiKey" WHERE "id" = ANY($1::text[]) AND "revokedAt" IS NULL`;
const liveSessionsSql = `SELECT "id" FROM "ConnectSession" WHERE "id" = ANY($1::text[]) AND "expiresAt" > now()`;

export class CallerWatch {
  private readonly streams = new Set<Watched>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly services: Services) {}

  /** Streams running now. */
  get size(): number {
    return this.streams.size;
  }

  /** Streams started since this instance started. */
  started = 0;

  /** Watches one stream's caller until the returned function is called. */
  add(caller: Caller, end: Watched["end"]): () => void {
    const entry: Watched = { caller, end };
    this.streams.add(entry);
    this.started++;
    if (!this.timer) {
      this.timer = setInterval(
        () => void this.check(),
        this.services.config.subscriptions.recheckIntervalMs,
      );
      this.timer.unref();
    }
    return () => {
      this.streams.delete(entry);
      if (this.streams.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** Ends every stream (the instance is shutting down). */
  endAll(): void {
    for (const entry of [...this.streams]) {
      entry.end("SHUTTING_DOWN", "This server is shutting down; resubscribe with after.");
    }
  }

  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      const keyIds = new Set<string>();
      const sessionIds = new Set<string>();
      for (const entry of this.streams) {
        const { caller } = entry;
        if (caller.expiresAt && caller.expiresAt.getTime() <= now) {
          entry.end(
            "CREDENTIALS_EXPIRED",
            "The token of this subscription expired; resubscribe with a fresh token and after.",
          );
        } else if (caller.apiKeyId) {
          keyIds.add(caller.apiKeyId);
        } else if (caller.connect) {
          sessionIds.add(caller.connect.sessionId);
        }
      }
      if (keyIds.size === 0 && sessionIds.size === 0) return;
      let live: Set<string>;
      let liveSessions: Set<string>;
      try {
        const rows =
          keyIds.size > 0
            ? await this.services.db.query<{ id: string }>(liveKeysSql, [[...keyIds]])
            : [];
        live = new Set(rows.map((row) => row.id));
        // A session's expiry is read again: one shortened in the database ends its streams too.
        const sessions =
          sessionIds.size > 0
            ? await this.services.db.query<{ id: string }>(liveSessionsSql, [[...sessionIds]])
            : [];
        liveSessions = new Set(sessions.map((row) => row.id));
      } catch (error) {
        // The database is away: keep the streams, check again next time.
        this.services.logger.warn("could not re-check subscription callers", { error });
        return;
      }
      for (const entry of [...this.streams]) {
        const sessionId = entry.caller.connect?.sessionId;
        if (sessionId && sessionIds.has(sessionId) && !liveSessions.has(sessionId)) {
          entry.end(
            "CREDENTIALS_EXPIRED",
            "The connect session of this subscription expired; resubscribe with a fresh token and after.",
          );
          continue;
        }
        const keyId = entry.caller.apiKeyId;
        if (keyId && !live.has(keyId)) {
          entry.end(
            "CREDENTIALS_REVOKED",
            "The API key of this subscription was revoked; the stream is closed.",
          );
        }
      }
    } finally {
      this.running = false;
    }
  }
}
