// Redis goes away under load. Two instances share the test's own redis-server (never the shared
// one), which is killed for a while and started again on the same port while queries and
// mutations keep coming: none of them fails, nothing crashes, publishing resumes, the running
// subscription on the other instance catches up with what it missed, and a subscriber that
// resumes with `after` gets the missed events too.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Cluster, graphqlRequest, type Instance, startCluster } from "../helpers/cluster.js";
import {
  ClusterDeleteCredential,
  ClusterViewer,
  createCredentialOn,
  type OwnRedis,
  ownRedis,
} from "../helpers/cluster-subscriptions.js";
import { eventually, subscribe } from "../helpers/subscribers.js";
import { CredentialEventsSubscription } from "../helpers/subscription-documents.js";

// 30 s, as long as an outage the product promises to ride out; REDIS_OUTAGE_MS shortens it locally.
const outageMs = Number(process.env.REDIS_OUTAGE_MS || 30_000);

let cluster: Cluster;
let redis: OwnRedis;
let a: Instance;
let b: Instance;

beforeAll(async () => {
  redis = await ownRedis();
  await redis.start();
  cluster = await startCluster(2, { REDIS_URL: redis.url });
  [a, b] = cluster.instances as [Instance, Instance];
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await redis?.stop();
});

it(`keeps serving through a ${outageMs / 1000} s Redis outage; subscriptions catch up`, async () => {
  const key = cluster.adminKey;
  const deleted: string[] = [];
  const failures: string[] = [];
  let operations = 0;
  let running = true;
  let counter = 0;

  // A subscriber on B that stays connected throughout.
  const live = subscribe("ws", b.origin, key, CredentialEventsSubscription, {
    filter: { types: ["DELETED"] },
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  // Steady load on both instances: a query, and a credential created and deleted (one event).
  const worker = async (instance: Instance) => {
    while (running) {
      counter++;
      const name = `outage-${counter}`;
      try {
        const viewer = await graphqlRequest(instance, key, ClusterViewer, {});
        if (viewer.errors?.length) failures.push(JSON.stringify(viewer.errors));
        const id = await createCredentialOn(instance, key, {
          name,
          verify: false,
          bearer: { token: `outage-token-${counter}` },
        });
        const result = await graphqlRequest(instance, key, ClusterDeleteCredential, {
          input: { id, force: true },
        });
        if (result.data?.deleteCredential.__typename !== "DeleteCredentialSuccess") {
          failures.push(JSON.stringify(result));
        } else {
          deleted.push(id);
        }
        operations += 4;
      } catch (error) {
        failures.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const workers = [worker(a), worker(b)];

  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await eventually(() => live.data.length > 0, 10_000, "live events before the outage");
  const lastBefore = live.data.at(-1)?.credentialEvents.id;
  const deletedBefore = deleted.length;

  await redis.stop();
  await new Promise((resolve) => setTimeout(resolve, outageMs));
  const deletedDuringOutage = deleted.length - deletedBefore;
  await redis.start();
  // Load continues while the instances reconnect.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  running = false;
  await Promise.all(workers);

  expect(failures).toEqual([]);
  expect(operations).toBeGreaterThan(40);
  expect(deletedDuringOutage).toBeGreaterThan(0);

  // The running subscriber gets every deletion exactly once, those of the outage included.
  const credentialOf = (d: (typeof live.data)[number]) =>
    (d.credentialEvents.credential as { id?: string } | null)?.id;
  await eventually(
    () => live.data.length >= deleted.length,
    20_000,
    "the subscriber to catch up",
  ).catch((error) => {
    throw new Error(
      `${error.message}: ${live.data.length} of ${deleted.length} (${deletedBefore} before, ${deletedDuringOutage} during); ${JSON.stringify(live.results.filter((r) => r.errors))} ${cluster.instances.map((i) => i.logs.join("")).join("\n")}`,
    );
  });
  const ids = live.data.map((d) => d.credentialEvents.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(live.data.length).toBe(deleted.length);
  expect(live.data.every((d) => credentialOf(d) === undefined)).toBe(true);

  // A subscriber resuming from the last event seen before the outage gets all that followed.
  const resumed = subscribe("sse-single", a.origin, key, CredentialEventsSubscription, {
    filter: { types: ["DELETED"], after: lastBefore },
  });
  const expected = ids.slice(ids.indexOf(lastBefore ?? "") + 1);
  await resumed.waitFor(expected.length, 20_000);
  expect(resumed.data.map((d) => d.credentialEvents.id)).toEqual(expected);

  // Publishing works again: a new deletion reaches both.
  const id = await createCredentialOn(a, key, {
    name: "after-outage",
    verify: false,
    bearer: { token: "after-outage-token" },
  });
  await graphqlRequest(a, key, ClusterDeleteCredential, { input: { id, force: true } });
  await live.waitFor(ids.length + 1, 15_000);
  await resumed.waitFor(expected.length + 1, 15_000);
  await live.dispose();
  await resumed.dispose();
}, 180_000);
