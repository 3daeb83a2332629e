// Delete protection and credential events: every status change is stored with its status, reason
// and dependent connectors in the transaction that makes it, ids grow in commit order, events are
// published only after commit (never for a rolled-back change, never crashing without Redis), and
// old events are pruned.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "../../src/env.js";
import { createLogger } from "../../src/lib/logger.js";
import { withCredentialEvents } from "../../src/modules/credentials/history.js";
import {
  type CredentialEventRecord,
  parseEventId,
  publishCredentialEvents,
} from "../../src/modules/events/events.service.js";
import { createRedisPubSub } from "../../src/pubsub.js";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  ConnectorQuery,
  CreateConnectorMutation,
  CredentialHistoryQuery,
  DeleteCredentialWithConnectorsMutation,
  UpdateConnectorMutation,
} from "../helpers/connector-documents.js";
import {
  AcquireHeadersMutation,
  CredentialQuery,
  RotateCredentialMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, environmentIds } from "../helpers/credentials.js";
import {
  closedPortUrl,
  oauthErrorReply,
  startTokenStub,
  type TokenStub,
  tokenReply,
} from "../helpers/token-stub.js";

const EventsAuthorizeMutation = graphql(`
  mutation EventsAuthorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        state
      }
      ... on Error {
        message
      }
    }
  }
`);

const EventsCompleteMutation = graphql(`
  mutation EventsComplete($input: CompleteAuthorizationInput!) {
    completeAuthorization(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rawId = (globalId: string) =>
  Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");
let counter = 0;
const unique = (label: string) => `${label}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

describe("credential events", () => {
  let app: TestApp;
  let stub: TokenStub;
  let env: Record<string, string>;
  let workspaceId: string;
  /** Everything published on the bus for the workspace, in arrival order. */
  const published: CredentialEventRecord[] = [];
  let stopListening: () => void;

  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({
        env: {
          TOKEN_REQUEST_TIMEOUT_MS: "300",
          REFRESH_FAILURE_BACKOFF: "1s",
          EVENT_PRUNE_INTERVAL_MS: "0",
        },
      }),
      startTokenStub(),
    ]);
    env = await environmentIds(app);
    workspaceId = (
      await app.database.prisma.workspace.findFirstOrThrow({ where: { slug: "default" } })
    ).id;
    const iterator = app.keyport.services.pubsub.bus.subscribe("credentialEvents", workspaceId);
    stopListening = () => void iterator.return?.();
    void (async () => {
      for await (const event of iterator) published.push(event);
    })();
  }, 60_000);
  afterAll(async () => {
    stopListening?.();
    await Promise.all([app?.close(), stub?.close()]);
  });

  async function connectorFor(credentialId: string, name = unique("connector")) {
    const result = dataOf(
      await app.execute(CreateConnectorMutation, {
        input: { name, appKey: "crm", environmentId: env.development, credentialId },
      }),
    ).createConnector;
    if (result.__typename !== "CreateConnectorSuccess") throw new Error(JSON.stringify(result));
    return result.connector;
  }
  const storedEvents = (credentialGlobalId: string) =>
    app.database.prisma.credentialEvent.findMany({
      where: { credentialId: rawId(credentialGlobalId) },
      orderBy: { id: "asc" },
    });
  const publishedFor = (credentialGlobalId: string) =>
    published.filter((event) => event.credentialId === rawId(credentialGlobalId));
  async function history(credentialId: string) {
    const credential = dataOf(
      await app.execute(CredentialHistoryQuery, { id: credentialId, first: 100 }),
    ).credential;
    if (!credential || !("history" in credential)) throw new Error("no history");
    return credential.history.edges.map((edge) => edge.node);
  }
  const oauth2 = (extra: Record<string, unknown> = {}) =>
    createCredential(app, {
      name: unique("oauth2"),
      oauth2: {
        clientId: "client",
        clientSecret: "client-secret-value",
        authorizationUrl: "https://provider.example/authorize",
        tokenUrl: stub.tokenUrl,
        accessToken: unique("access"),
        refreshToken: unique("refresh"),
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
        ...extra,
      },
    });
  const rotate = async (id: string) =>
    dataOf(await app.execute(RotateCredentialMutation, { input: { id } })).rotateCredential;
  const acquire = async (credentialId: string) =>
    dataOf(await app.execute(AcquireHeadersMutation, { input: { credentialId } }))
      .acquireCredentialHeaders;

  describe("delete protection", () => {
    it("refuses to delete a credential in use, lists its connectors and changes nothing", async () => {
      const credential = await createCredential(app, {
        name: unique("used"),
        bearer: { token: "used-bearer-token" },
      });
      const first = await connectorFor(credential.id, "Billing sync");
      const second = await connectorFor(credential.id, "CRM import");
      const before = await storedEvents(credential.id);

      const refused = dataOf(
        await app.execute(DeleteCredentialWithConnectorsMutation, { input: { id: credential.id } }),
      ).deleteCredential;
      expect(refused).toMatchObject({
        __typename: "CredentialInUseError",
        connectorIds: [first.id, second.id],
        connectors: [
          { id: first.id, name: "Billing sync", status: "ACTIVE" },
          { id: second.id, name: "CRM import", status: "ACTIVE" },
        ],
      });
      expect(refused.__typename === "CredentialInUseError" && refused.message).toMatch(
        /used by 2 connectors/,
      );
      expect(
        dataOf(await app.execute(CredentialQuery, { id: credential.id })).credential,
      ).not.toBeNull();
      expect(dataOf(await app.execute(ConnectorQuery, { id: first.id })).connector).toMatchObject({
        status: "ACTIVE",
        credentialId: credential.id,
      });
      expect(await storedEvents(credential.id)).toEqual(before);
      expect(
        await app.database.prisma.auditEvent.count({
          where: { action: "credential.delete", objectId: rawId(credential.id) },
        }),
      ).toBe(0);
    });

    it("with force deletes, leaves the connectors NEEDS_CREDENTIAL and records a DELETED event that outlives the credential", async () => {
      const credential = await createCredential(app, {
        name: unique("forced"),
        bearer: { token: "forced-bearer-token" },
      });
      const first = await connectorFor(credential.id, "Forced A");
      const second = await connectorFor(credential.id, "Forced B");
      const result = dataOf(
        await app.execute(DeleteCredentialWithConnectorsMutation, {
          input: { id: credential.id, force: true },
        }),
      ).deleteCredential;
      expect(result).toEqual({
        __typename: "DeleteCredentialSuccess",
        deletedCredentialId: credential.id,
        detachedConnectorIds: [first.id, second.id],
        detachedConnectors: [
          { id: first.id, name: "Forced A", status: "NEEDS_CREDENTIAL", credentialId: null },
          { id: second.id, name: "Forced B", status: "NEEDS_CREDENTIAL", credentialId: null },
        ],
      });
      expect(
        dataOf(await app.execute(CredentialQuery, { id: credential.id })).credential,
      ).toBeNull();
      expect(dataOf(await app.execute(ConnectorQuery, { id: first.id })).connector).toMatchObject({
        status: "NEEDS_CREDENTIAL",
        credentialId: null,
        credential: null,
      });

      const events = await storedEvents(credential.id);
      expect(events.at(-1)).toMatchObject({
        type: "DELETED",
        status: "ACTIVE",
        environmentId: rawId(env.development ?? ""),
        dependents: [
          { id: rawId(first.id), name: "Forced A" },
          { id: rawId(second.id), name: "Forced B" },
        ],
      });
      await sleep(50);
      expect(publishedFor(credential.id).at(-1)).toMatchObject({
        type: "DELETED",
        dependents: [
          { id: rawId(first.id), name: "Forced A" },
          { id: rawId(second.id), name: "Forced B" },
        ],
      });

      // Giving a NEEDS_CREDENTIAL connector a credential makes it ACTIVE again.
      const replacement = await createCredential(app, {
        name: unique("replacement"),
        bearer: { token: "replacement-token" },
      });
      const resumed = dataOf(
        await app.execute(UpdateConnectorMutation, {
          input: { id: first.id, credentialId: replacement.id },
        }),
      ).updateConnector;
      expect(resumed).toMatchObject({
        connector: { status: "ACTIVE", credentialId: replacement.id },
      });
      const stillWaiting = dataOf(
        await app.execute(UpdateConnectorMutation, { input: { id: second.id, status: "ACTIVE" } }),
      ).updateConnector;
      expect(stillWaiting).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "credentialId"] }],
      });
    });
  });

  describe("every status change", () => {
    it("REFRESHED, REFRESH_FAILED, RESTORED and INVALIDATED with status, reason and dependents", async () => {
      const credential = await oauth2();
      const connector = await connectorFor(credential.id, "Refresh watcher");
      const dependents = [{ id: rawId(connector.id), name: "Refresh watcher" }];

      // acquireCredentialHeaders refreshes the expired token; rotateCredential without a secret
      // refreshes now, past the negative cache.
      stub.script(tokenReply({ access_token: unique("at") }));
      expect((await acquire(credential.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
      stub.script({ status: 503 });
      expect((await rotate(credential.id)).__typename).toBe("CredentialProviderError");
      stub.script(tokenReply({ access_token: unique("at") }));
      expect((await rotate(credential.id)).__typename).toBe("RotateCredentialSuccess");
      stub.script(oauthErrorReply("invalid_grant"));
      expect((await rotate(credential.id)).__typename).toBe("CredentialProviderError");

      const events = (await storedEvents(credential.id)).map((e) => ({
        type: e.type,
        status: e.status,
        reasonCode: e.reasonCode,
        dependents: e.dependents,
      }));
      expect(events).toEqual([
        { type: "REFRESHED", status: "ACTIVE", reasonCode: null, dependents },
        { type: "REFRESH_FAILED", status: "DEGRADED", reasonCode: null, dependents },
        { type: "REFRESH_FAILED", status: "DEGRADED", reasonCode: null, dependents },
        {
          type: "REFRESH_FAILED",
          status: "DEGRADED",
          reasonCode: "PROVIDER_UNAVAILABLE",
          dependents,
        },
        { type: "RESTORED", status: "ACTIVE", reasonCode: null, dependents },
        {
          type: "REFRESH_FAILED",
          status: "INVALID",
          reasonCode: "REFRESH_TOKEN_REVOKED",
          dependents,
        },
        { type: "INVALIDATED", status: "INVALID", reasonCode: "REFRESH_TOKEN_REVOKED", dependents },
      ]);

      // The same events reach the bus, in the same order, and history shows them newest first.
      await sleep(50);
      expect(publishedFor(credential.id).map((e) => e.type)).toEqual(events.map((e) => e.type));
      const shown = await history(credential.id);
      expect(shown.map((e) => e.type)).toEqual(events.map((e) => e.type).reverse());
      expect(shown[0]).toMatchObject({
        type: "INVALIDATED",
        status: "INVALID",
        reason: { code: "REFRESH_TOKEN_REVOKED" },
        credential: { __typename: "OAuth2Credential" },
        dependentConnectors: [{ id: connector.id, name: "Refresh watcher" }],
        dependents: [{ id: connector.id, name: "Refresh watcher" }],
      });
      expect(publishedFor(credential.id).map((e) => e.id)).toEqual(
        shown.map((e) => e.id).reverse(),
      );
    });

    it("AUTHORIZED when an authorization completes, INVALIDATED when an endpoint change sends it back to PENDING_AUTHORIZATION", async () => {
      const credential = await createCredential(app, {
        name: unique("authorize"),
        oauth2: {
          clientId: "client",
          clientSecret: "client-secret-value",
          authorizationUrl: "https://provider.example/authorize",
          tokenUrl: stub.tokenUrl,
        },
      });
      await connectorFor(credential.id, "Authorized user");
      const started = dataOf(
        await app.execute(EventsAuthorizeMutation, {
          input: { id: credential.id, redirectUri: "https://app.example/callback" },
        }),
      ).authorizeCredential;
      if (started.__typename !== "AuthorizeCredentialSuccess")
        throw new Error(JSON.stringify(started));
      stub.script(tokenReply({ access_token: unique("at"), refresh_token: unique("rt") }));
      const completed = dataOf(
        await app.execute(EventsCompleteMutation, {
          input: { state: started.state, code: "the-code" },
        }),
      ).completeAuthorization;
      expect(completed.__typename).toBe("CompleteAuthorizationSuccess");

      const changed = dataOf(
        await app.execute(UpdateCredentialMutation, {
          input: {
            id: credential.id,
            oauth2: { tokenUrl: `${stub.tokenUrl}?moved=1`, clientSecret: "client-secret-value" },
          },
        }),
      ).updateCredential;
      expect(changed.__typename).toBe("UpdateCredentialSuccess");

      const events = await storedEvents(credential.id);
      expect(
        events.filter((e) => e.type !== "AUTHORIZATION_STARTED").map((e) => [e.type, e.status]),
      ).toEqual([
        ["AUTHORIZED", "ACTIVE"],
        ["INVALIDATED", "PENDING_AUTHORIZATION"],
      ]);
      expect(events.at(-1)?.reasonMessage).toMatch(/tokenUrl changed/);
      expect(
        events.every((e) => (e.dependents as { name: string }[])[0]?.name === "Authorized user"),
      ).toBe(true);
    });

    it("ROTATED with a new secret, VERIFIED when a client-credentials connection is checked at creation", async () => {
      const bearer = await createCredential(app, {
        name: unique("rotate"),
        bearer: { token: "old-bearer-token" },
      });
      const rotated = dataOf(
        await app.execute(RotateCredentialMutation, {
          input: { id: bearer.id, secret: { token: "new-bearer-token" } },
        }),
      ).rotateCredential;
      expect(rotated.__typename).toBe("RotateCredentialSuccess");
      expect((await storedEvents(bearer.id)).map((e) => [e.type, e.status])).toEqual([
        ["ROTATED", "ACTIVE"],
      ]);

      stub.script(tokenReply({ access_token: unique("cc") }));
      const connection = await createCredential(app, {
        name: unique("verified"),
        clientCredentials: {
          clientId: "c",
          clientSecret: "cc-secret-value",
          tokenUrl: stub.tokenUrl,
        },
      });
      expect((await storedEvents(connection.id)).map((e) => [e.type, e.status])).toEqual([
        ["VERIFIED", "ACTIVE"],
      ]);
      // No event ever holds a secret.
      const all = JSON.stringify(
        await app.database.prisma.credentialEvent.findMany(),
        (_key, value) => (typeof value === "bigint" ? value.toString() : value),
      );
      for (const secret of ["new-bearer-token", "old-bearer-token", "cc-secret-value"]) {
        expect(all).not.toContain(secret);
      }
    });
  });

  describe("ids and publishing", () => {
    const deps = () => ({
      prisma: app.database.prisma,
      pubsub: app.keyport.services.pubsub,
      logger: app.keyport.services.logger,
    });
    const someCredential = async () => {
      const created = await createCredential(app, {
        name: unique("events"),
        bearer: { token: "events-bearer-token" },
      });
      return app.database.prisma.credential.findUniqueOrThrow({ where: { id: rawId(created.id) } });
    };

    it("gives ids that grow strictly in commit order, even when a later transaction started first", async () => {
      const credential = await someCredential();
      const committed: string[] = [];
      const write = (holdMs: number) =>
        withCredentialEvents(deps(), async (_tx, record) => {
          const event = await record({
            workspaceId,
            credentialId: credential.id,
            type: "VERIFIED",
            status: credential.status,
          });
          await sleep(holdMs);
          return event;
        }).then((event) => {
          committed.push(event.id);
          return event;
        });
      const slow = write(400);
      await sleep(50);
      const fast = write(0);
      await Promise.all([slow, fast]);
      expect(committed).toHaveLength(2);
      const [firstCommitted, secondCommitted] = committed as [string, string];
      expect(secondCommitted > firstCommitted).toBe(true);
      expect((parseEventId(secondCommitted) ?? 0n) > (parseEventId(firstCommitted) ?? 0n)).toBe(
        true,
      );

      // And across everything this file wrote: table order, id order and string order agree.
      const rows = await app.database.prisma.credentialEvent.findMany({ orderBy: { id: "asc" } });
      const ids = rows.map((row) => row.id);
      expect(ids.every((id, index) => index === 0 || id > (ids[index - 1] ?? 0n))).toBe(true);
      const publicIds = published.map((event) => event.id);
      expect([...publicIds].sort()).toEqual(publicIds);
      expect(parseEventId("ce_1")).toBeNull();
      expect(parseEventId(encodeGlobalID("CredentialEvent", "1"))).toBeNull();
    });

    it("publishes only after commit, and nothing for a rolled-back change", async () => {
      const credential = await someCredential();
      const count = () => published.filter((e) => e.credentialId === credential.id).length;
      const before = count();
      let seenInside = -1;
      await withCredentialEvents(deps(), async (_tx, record) => {
        await record({
          workspaceId,
          credentialId: credential.id,
          type: "VERIFIED",
          status: credential.status,
        });
        await sleep(50);
        seenInside = count();
      });
      expect(seenInside).toBe(before);
      await sleep(50);
      expect(count()).toBe(before + 1);

      const rowsBefore = await app.database.prisma.credentialEvent.count();
      await expect(
        withCredentialEvents(deps(), async (_tx, record) => {
          await record({
            workspaceId,
            credentialId: credential.id,
            type: "INVALIDATED",
            status: "INVALID",
          });
          throw new Error("the change failed");
        }),
      ).rejects.toThrow("the change failed");
      await sleep(100);
      expect(count()).toBe(before + 1);
      expect(await app.database.prisma.credentialEvent.count()).toBe(rowsBefore);
    });

    it("never throws or leaves an unhandled rejection when Redis is down", async () => {
      const lines: string[] = [];
      const logger = createLogger("warn", (line) => lines.push(line));
      const redisUrl = (await closedPortUrl()).replace(/^http:\/\/([^/]+).*$/, "redis://$1");
      const pubsub = createRedisPubSub(redisUrl, logger);
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on("unhandledRejection", onRejection);
      try {
        const credential = await someCredential();
        const event = await withCredentialEvents(
          { prisma: app.database.prisma, pubsub, logger },
          (_tx, record) =>
            record({
              workspaceId,
              credentialId: credential.id,
              type: "VERIFIED",
              status: credential.status,
            }),
        );
        expect(() => publishCredentialEvents({ pubsub, logger }, [event])).not.toThrow();
        await sleep(300);
        expect(rejections).toEqual([]);
        // The event is stored all the same, replayable from the table.
        expect(
          await app.database.prisma.credentialEvent.count({
            where: { id: parseEventId(event.id) ?? 0n },
          }),
        ).toBe(1);
        expect(lines.join("\n")).toMatch(/redis/i);
      } finally {
        process.off("unhandledRejection", onRejection);
        await pubsub.close();
      }
    });
  });

  describe("retention", () => {
    it("prunes only events older than EVENT_RETENTION_DAYS, in batches", async () => {
      const credential = await app.database.prisma.credential.findFirstOrThrow({
        where: { workspaceId },
      });
      const day = 86_400_000;
      const row = (ageDays: number) => ({
        workspaceId,
        environmentId: credential.environmentId,
        credentialId: credential.id,
        type: "REFRESHED" as const,
        status: "ACTIVE" as const,
        reasonMessage: `age ${ageDays}`,
        occurredAt: new Date(Date.now() - ageDays * day),
      });
      await app.database.prisma.credentialEvent.createMany({
        data: [31, 45, 400, 33, 60].map(row),
      });
      await app.database.prisma.credentialEvent.createMany({ data: [29, 1, 0].map(row) });
      const recentBefore = await app.database.prisma.credentialEvent.count({
        where: { occurredAt: { gte: new Date(Date.now() - 30 * day) } },
      });

      const { pruneCredentialEvents } = await import("../../src/modules/events/events.service.js");
      expect(await pruneCredentialEvents(app.database.prisma, 30, { batchSize: 2 })).toBe(5);
      const left = await app.database.prisma.credentialEvent.findMany({
        where: { reasonMessage: { startsWith: "age " } },
        select: { reasonMessage: true },
      });
      expect(left.map((e) => e.reasonMessage).sort()).toEqual(["age 0", "age 1", "age 29"]);
      expect(
        await app.database.prisma.credentialEvent.count({
          where: { occurredAt: { gte: new Date(Date.now() - 30 * day) } },
        }),
      ).toBe(recentBefore);
      // The instance's background pruner does the same pass (nothing left to prune now).
      expect(await app.keyport.services.eventPruner.prune()).toBe(0);
    });

    it("reads EVENT_RETENTION_DAYS (default 30) and refuses bad values", () => {
      const base = { ENCRYPTION_KEYS: undefined };
      expect(parseEnv(base).events.retentionDays).toBe(30);
      expect(parseEnv({ ...base, EVENT_RETENTION_DAYS: "7" }).events.retentionDays).toBe(7);
      for (const bad of ["0", "-1", "1.5", "days", "4000"]) {
        expect(() => parseEnv({ ...base, EVENT_RETENTION_DAYS: bad }), bad).toThrow(
          /EVENT_RETENTION_DAYS/,
        );
      }
    });
  });
});
