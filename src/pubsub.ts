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
  /** Calls `lost` when the bus connection drops (events published from then on may not arrive)
   * and `recovered` once it is back; returns a function that removes both. */
  onOutage(listener: { lost(): void; recovered(): void }): () => void;
  close(): Promise<void>;
}

export function createMemoryPubSub(): PubSub {
  return {
    bus: createPubSub<PubSubChannels>(),
    kind: "memory",
    ping: async () => {},
    onOutage: () => () => {},
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
  // No ready check: its INFO command fails once the queued SUBSCRIBE has put the connection in
  // subscriber mode, which closed the connection again on every reconnect.
  const subscribeClient = new Redis(url, {
    ...options,
    enableOfflineQueue: true,
    enableReadyCheck: false,
  });
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
  const outageListeners = new Set<{ lost(): void; recovered(): void }>();
  let subscriberLost = false;
  subscribeClient.on("close", () => {
    if (subscriberLost) return;
    subscriberLost = true;
    for (const listener of outageListeners) listener.lost();
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
          for (const listener of outageListeners) listener.recovered();
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
  // Unsubscribing while the connection is closed (streams ending at shutdown or during an
  // outage) fails on its own too; the subscription is gone with the connection anyway.
  const safeSubscriber = new Proxy(subscribeClient, {
    get(target, property) {
      if (property === "unsubscribe") {
        return (...channels: string[]) => target.unsubscribe(...channels).catch(() => 0);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const eventTarget = createRedisEventTarget({
    publishClient: safePublisher,
    subscribeClient: safeSubscriber,
  });
  return {
    bus: createPubSub<PubSubChannels>({ eventTarget }),
    kind: "redis",
    ping: async () => {
      await publishClient.ping();
    },
    onOutage: (listener) => {
      outageListeners.add(listener);
      return () => outageListeners.delete(listener);
    },
    close: async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
