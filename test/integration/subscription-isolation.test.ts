// Isolation under volume: 10,000 random committed events across three workspaces and their
// environments, published through the same function as every committed change, reach
// subscribers of every kind (workspace admins, environment-limited keys, environment and type
// filters) over graphql-ws and graphql-sse. No subscriber ever sees an event it may not see, and
// each sees every event it may, in order.
import type { Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type CredentialEventRecord,
  formatEventId,
  publishCredentialEvents,
} from "../../src/modules/events/events.service.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { CreateApiKeyMutation, CreateWorkspaceMutation } from "../helpers/documents.js";
import { type Collected, eventually, subscribe, type Transport } from "../helpers/subscribers.js";
import { CredentialEventIdsSubscription } from "../helpers/subscription-documents.js";

const eventCount = 10_000;
const types = ["REFRESHED", "REFRESH_FAILED", "INVALIDATED", "VERIFIED", "DELETED"] as const;

let app: TestApp;
let server: Server;
let origin: string;

beforeAll(async () => {
  app = await startTestApp();
  server = app.keyport.createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await app?.close();
});

type Workspace = {
  id: string;
  adminKey: string;
  environments: { id: string; globalId: string; slug: string }[];
};

type Subscriber = {
  label: string;
  may: (event: CredentialEventRecord) => boolean;
  sub: Collected<{ credentialEvents: { id: string } }>;
  expected: string[];
};

// A small deterministic generator, so a failure can be replayed.
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

it(`delivers ${eventCount} random events to exactly the subscribers that may see them`, async () => {
  const workspaces: Workspace[] = [];
  const slugs = ["default", "isolation-b", "isolation-c"];
  for (const slug of slugs) {
    let adminKey = app.adminKey;
    if (slug !== "default") {
      const created = dataOf(
        await app.execute(CreateWorkspaceMutation, { input: { slug, name: slug } }),
      ).createWorkspace;
      if (created.__typename !== "CreateWorkspaceSuccess") throw new Error(JSON.stringify(created));
      adminKey = created.adminApiKey;
    }
    const rows = await app.database.query<{ workspaceId: string; id: string; slug: string }>(
      `SELECT e."workspaceId", e."id", e."slug" FROM "Environment" e
       JOIN "Workspace" w ON w."id" = e."workspaceId" WHERE w."slug" = $1 ORDER BY e."slug"`,
      [slug],
    );
    workspaces.push({
      id: rows[0]?.workspaceId ?? "",
      adminKey,
      environments: rows.map((row) => ({
        id: row.id,
        slug: row.slug,
        globalId: Buffer.from(`Environment:${row.id}`).toString("base64"),
      })),
    });
  }

  const subscribers: Subscriber[] = [];
  const transportsCycle: Transport[] = ["ws", "sse-single", "sse-distinct", "sse-yoga"];
  let t = 0;
  const nextTransport = () => transportsCycle[t++ % transportsCycle.length] as Transport;
  for (const workspace of workspaces) {
    const [development, production] = workspace.environments;
    if (!development || !production) throw new Error("expected two environments");
    const limited = dataOf(
      await app.execute(
        CreateApiKeyMutation,
        {
          input: {
            name: "dev only",
            scopes: ["credentials:read"],
            environmentId: development.globalId,
          },
        },
        { key: workspace.adminKey },
      ),
    ).createApiKey;
    if (limited.__typename !== "CreateApiKeySuccess") throw new Error(JSON.stringify(limited));
    const inWorkspace = (e: CredentialEventRecord) => e.workspaceId === workspace.id;
    const add = (
      label: string,
      key: string,
      filter: Record<string, unknown>,
      may: (e: CredentialEventRecord) => boolean,
    ) => {
      const transport = nextTransport();
      subscribers.push({
        label: `${label} over ${transport}`,
        may,
        expected: [],
        sub: subscribe(transport, origin, key, CredentialEventIdsSubscription, { filter }),
      });
    };
    add(`${workspace.id} admin`, workspace.adminKey, {}, inWorkspace);
    add(
      `${workspace.id} development-limited key`,
      limited.key,
      {},
      (e) => inWorkspace(e) && e.environmentId === development.id,
    );
    // A limited key asking for another environment gets nothing.
    add(
      `${workspace.id} development-limited key asking for production`,
      limited.key,
      { environmentId: production.globalId },
      () => false,
    );
    add(
      `${workspace.id} admin, production, invalidations`,
      workspace.adminKey,
      { environmentId: production.globalId, types: ["INVALIDATED", "DELETED"] },
      (e) =>
        inWorkspace(e) &&
        e.environmentId === production.id &&
        (e.type === "INVALIDATED" || e.type === "DELETED"),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 1_500));

  const next = random(20261123);
  const base = 5_000_000_000n;
  let published = 0;
  while (published < eventCount) {
    const batch: CredentialEventRecord[] = [];
    for (let i = 0; i < 250 && published < eventCount; i++, published++) {
      const workspace = workspaces[Math.floor(next() * workspaces.length)] as Workspace;
      const environment = workspace.environments[
        Math.floor(next() * 2)
      ] as Workspace["environments"][number];
      const sequence = base + BigInt(published);
      const event: CredentialEventRecord = {
        id: formatEventId(sequence),
        sequence: sequence.toString(),
        workspaceId: workspace.id,
        environmentId: environment.id,
        credentialId: `synthetic-${published % 97}`,
        type: types[Math.floor(next() * types.length)] as string,
        status: "ACTIVE",
        reason: null,
        attempt: null,
        dependents: [],
        occurredAt: new Date().toISOString(),
      };
      batch.push(event);
      for (const subscriber of subscribers) {
        if (subscriber.may(event)) subscriber.expected.push(event.id);
      }
    }
    publishCredentialEvents(app.keyport.services, batch);
    // Paced by delivery, as a real stream of commits is: no subscriber falls a buffer behind.
    await eventually(
      () => subscribers.every((s) => s.sub.results.length >= s.expected.length),
      30_000,
      "delivery of the batch",
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 500));

  let delivered = 0;
  for (const subscriber of subscribers) {
    const errors = subscriber.sub.results.filter((r) => r.errors?.length);
    expect(errors, subscriber.label).toEqual([]);
    const got = subscriber.sub.data.map((d) => d.credentialEvents.id);
    expect(got.length, subscriber.label).toBe(subscriber.expected.length);
    expect(got, subscriber.label).toEqual(subscriber.expected);
    delivered += got.length;
  }
  expect(delivered).toBeGreaterThan(eventCount);
  for (const subscriber of subscribers) await subscriber.sub.dispose();
}, 240_000);
