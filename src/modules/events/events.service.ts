// Credential events after they are stored: their public ids, publishing after commit on the
// workspace's channel, and pruning past EVENT_RETENTION_DAYS. No GraphQL here.
import type { PrismaClient } from "../../db.js";
import type { Logger } from "../../lib/logger.js";
import type { PubSub } from "../../pubsub.js";

/** A connector as it was when an event happened (ids are raw connector row ids). */
export type DependentConnector = { id: string; name: string };

/**
 * One stored event, as published and as the GraphQL CredentialEvent type reads it. Plain JSON
 * (no bigint, dates as ISO strings) so it crosses Redis unchanged. Never holds a secret.
 */
export type CredentialEventRecord = {
  /** Public id: opaque, and a later event's id sorts after an earlier one's (string order). */
  id: string;
  /** The sequence number behind `id`, as a decimal string. */
  sequence: string;
  workspaceId: string;
  environmentId: string;
  credentialId: string;
  /** The credential's end user and provider when the event happened. */
  externalUserId?: string | null;
  providerKey?: string | null;
  type: string;
  status: string;
  reason: { code: string; message: string } | null;
  attempt: {
    action: string;
    outcome: string;
    durationMs: number | null;
    httpStatus: number | null;
    errorCode: string | null;
    /** Names of the values the request updated; never a value. */
    updatedFields: string[];
  } | null;
  dependents: DependentConnector[];
  occurredAt: string;
};

const eventIdPrefix = "ce_";
const sequenceDigits = 19; // a bigint has at most 19 digits

/** The public id of an event's sequence number: fixed width, so string order is id order. */
export function formatEventId(sequence: bigint): string {
  return `${eventIdPrefix}${sequence.toString().padStart(sequenceDigits, "0")}`;
}

/** The sequence number of a public event id, or null when it is not one. */
export function parseEventId(id: string): bigint | null {
  const match = new RegExp(`^${eventIdPrefix}(\\d{${sequenceDigits}})$`).exec(id);
  return match?.[1] ? BigInt(match[1]) : null;
}

type EventRow = {
  id: bigint;
  workspaceId: string;
  environmentId: string;
  credentialId: string;
  externalUserId?: string | null;
  providerKey?: string | null;
  type: string;
  status: string;
  reasonCode: string | null;
  reasonMessage: string | null;
  action: string | null;
  outcome: string | null;
  durationMs: number | null;
  httpStatus: number | null;
  errorCode: string | null;
  updatedFields?: string[] | null;
  dependents: unknown;
  occurredAt: Date;
};

function dependentsOf(value: unknown): DependentConnector[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) =>
    item && typeof item.id === "string" && typeof item.name === "string"
      ? [{ id: item.id, name: item.name }]
      : [],
  );
}

export function eventRecordOf(row: EventRow): CredentialEventRecord {
  return {
    id: formatEventId(row.id),
    sequence: row.id.toString(),
    workspaceId: row.workspaceId,
    environmentId: row.environmentId,
    credentialId: row.credentialId,
    externalUserId: row.externalUserId ?? null,
    providerKey: row.providerKey ?? null,
    type: row.type,
    status: row.status,
    reason: row.reasonCode ? { code: row.reasonCode, message: row.reasonMessage ?? "" } : null,
    attempt:
      row.action && row.outcome
        ? {
            action: row.action,
            outcome: row.outcome,
            durationMs: row.durationMs,
            httpStatus: row.httpStatus,
            errorCode: row.errorCode,
            updatedFields: row.updatedFields ?? [],
          }
        : null,
    dependents: dependentsOf(row.dependents),
    occurredAt: row.occurredAt.toISOString(),
  };
}

/** The PubSub channel of committed credential events, keyed by workspace id. */
export const credentialEventsChannel = "credentialEvents" as const;

/**
 * Publishes committed events on `credentialEvents:<workspaceId>`, in id order. Call it only after
 * the transaction that wrote them has committed. It never throws: when the bus (Redis) is down
 * the failure is logged and the events stay replayable from the table.
 */
export function publishCredentialEvents(
  deps: { pubsub: PubSub; logger: Logger },
  events: readonly CredentialEventRecord[],
): void {
  for (const event of events) {
    try {
      deps.pubsub.bus.publish(credentialEventsChannel, event.workspaceId, event);
    } catch (error) {
      deps.logger.warn("could not publish a credential event", {
        eventId: event.id,
        credentialId: event.credentialId,
        error,
      });
    }
  }
}

/**
 * Deletes events older than `retentionDays`, `batchSize` rows per statement so that no single
 * statement holds many locks; returns how many were deleted.
 */
export async function pruneCredentialEvents(
  prisma: PrismaClient,
  retentionDays: number,
  { batchSize = 1000, now = new Date() }: { batchSize?: number; now?: Date } = {},
): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  let deleted = 0;
  for (;;) {
    const count = await prisma.$executeRaw`
      DELETE FROM "CredentialEvent" WHERE "id" IN (
        SELECT "id" FROM "CredentialEvent" WHERE "occurredAt" < ${cutoff}
        ORDER BY "occurredAt" LIMIT ${batchSize})`;
    deleted += count;
    if (count < batchSize) return deleted;
  }
}

/** Prunes old events in the background on every instance (idempotent across instances). */
export class EventPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly deps: { prisma: PrismaClient; logger: Logger },
    private readonly options: { retentionDays: number; intervalMs: number },
  ) {}

  start() {
    if (this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.prune(), this.options.intervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; a pass already running is joined instead of started again. */
  prune(): Promise<number> {
    this.running ??= pruneCredentialEvents(this.deps.prisma, this.options.retentionDays)
      .catch((error: unknown) => {
        this.deps.logger.warn("could not prune credential events", { error });
        return 0;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
