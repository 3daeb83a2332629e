// Event fan-out for subscriptions: in-process by default, Redis when REDIS_URL is set so that
// every instance sees events published by any other.
import { createRedisEventTarget } from "@graphql-yoga/redis-event-target";
import { createPubSub } from "graphql-yoga";
import { Redis } from "ioredis";
import type { Logger } from "./lib/logger.js";
import type { CredentialEventRecord } from "./modules/events/events.service.js";

// Channels are keyed by workspace so a subscriber never receives another tenant's events.
export type PubSubChannels = {
  /** Committed credential events (see publishCredentialEvents), on `credentialEvents:<workspaceId>`. */
  credentialEvents: [workspaceId: string, event: CredentialEventRecord];
};

export type EventBus = ReturnType<typeof createPubSub<PubSubChannels>>;

export interface PubSub {
  readonly bus: EventBus;
  readonly kind: "memory" | "redis";
  ping(): Promise<void>;
  /** Calls `listener` whenever the bus is back after an outage (events published meanwhile were
   * not delivered); returns a function that removes it. */
  onRecover(listener: () => void): () => void;
  close(): Promise<void>;
}

export function createMemoryPubSub(): PubSub {
  return {
    bus: createPubSub<PubSubChannels>(),
    kind: "memory",
    ping: async () => {},
    onRecover: () => () => {},
    close: async () => {},
  };
}

export function createRedisPubSub(url: string, logger: Logger): PubSub {
  const options = {
    // Fail fast while Redis is away so queries and mutations are not held up by publishing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 5_000),
  };
  const publishClient = new Redis(url, options);
  // The subscriber queues its SUBSCRIBE commands until the connection is back.
  const subscribeClient = new Redis(url, { ...options, enableOfflineQueue: true });
  let reported = false;
  for (const client of [publishClient, subscribeClient]) {
    client.on("error", (error: Error) => {
      if (!reported) logger.warn("redis unavailable; retrying", { error: error.message });
      reported = true;
    });
    client.on("ready", () => {
      reported = false;
    });
  }
  // After the subscriber connection comes back (and has re-subscribed: the PING answers after
  // the SUBSCRIBE commands sent before it), listeners catch up from the events table.
  const recoverListeners = new Set<() => void>();
  let subscriberLost = false;
  subscribeClient.on("close", () => {
    subscriberLost = true;
  });
  subscribeClient.on("ready", () => {
    if (!subscriberLost) return;
    subscriberLost = false;
    setTimeout(() => {
      subscribeClient
        .ping()
        .catch(() => {})
        .finally(() => {
          logger.info("redis is back; subscriptions catch up from the events table");
          for (const listener of recoverListeners) listener();
        });
    }, 100).unref();
  });
  // A publish while Redis is away fails on its own; it must never become an unhandled rejection.
  const safePublisher = {
    publish: (channel: string, message: string) =>
      publishClient.publish(channel, message).catch((error: Error) => {
        logger.warn("redis publish failed; event not delivered live", { error: error.message });
        return 0;
      }),
  } as unknown as Redis;
  const eventTarget = createRedisEventTarget({ publishClient: safePublisher, subscribeClient });
  return {
    bus: createPubSub<PubSubChannels>({ eventTarget }),
    kind: "redis",
    ping: async () => {
      await publishClient.ping();
    },
    onRecover: (listener) => {
      recoverListeners.add(listener);
      return () => recoverListeners.delete(listener);
    },
    close: async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
