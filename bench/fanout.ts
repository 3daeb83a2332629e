// The fanout scenario: many SSE subscribers (graphql-sse, one connection each, the way connector
// services subscribe) split over two instances that share PostgreSQL and Redis; one credential
// invalidation on the first instance, which every subscriber must receive. Reports delivery
// latency (from the event's commit time to its arrival) and resident memory per idle subscriber.
import { readFileSync } from "node:fs";
import { createClient } from "graphql-sse";
import type { Api, BurstResult, BurstScenario } from "./scenarios.js";

const subscriberCount = Number(process.env.BENCH_FANOUT_SUBSCRIBERS || 1000);
const rounds = Number(process.env.BENCH_FANOUT_ROUNDS || 3);

function rssKb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Received = { roundId: string; at: number; occurredAt: number };

const subscription = `subscription { credentialInvalidated { id type occurredAt } }`;

async function createDoomedCredential(api: Api, environmentId: string, name: string) {
  const { createCredential } = await api.graphql<{
    createCredential: { __typename: string; credential?: { id?: string }; message?: string };
  }>(
    `mutation ($input: CreateCredentialInput!) {
      createCredential(input: $input) {
        __typename
        ... on CreateCredentialSuccess { credential { ... on BearerCredential { id } } }
        ... on Error { message }
      }
    }`,
    { input: { name, environmentId, verify: false, bearer: { token: `fanout-${name}-token` } } },
  );
  const id = createCredential.credential?.id;
  if (!id) throw new Error(`createCredential answered ${createCredential.__typename}`);
  return id;
}

export const fanout: BurstScenario = {
  name: "fanout",
  description: `${subscriberCount} SSE subscribers (graphql-sse) over 2 instances; one invalidation each round must reach all`,
  peers: true,
  async burst(api) {
    const notes: string[] = [];
    const peer = api.startPeer ? await api.startPeer() : null;
    if (!peer) notes.push("no second instance (PGlite is single-process): all subscribers on one");
    const origins = [api.origin, ...(peer ? [peer.origin] : [])];
    const pids = [api.serverPid, ...(peer ? [peer.pid] : [])];
    const { viewer } = await api.graphql<{
      viewer: { workspace: { environments: { id: string; slug: string }[] } };
    }>("{ viewer { workspace { environments { id slug } } } }");
    const environmentId = viewer.workspace.environments.find((e) => e.slug === "development")?.id;
    if (!environmentId) throw new Error("no development environment");

    // Warm both instances (first subscription, first event) before measuring memory.
    await sleep(1_000);
    const rssBefore = pids.map(rssKb);
    const received: Received[][] = Array.from({ length: subscriberCount }, () => []);
    let connected = 0;
    let failures = 0;
    let sampleError: string | null = null;
    const clients = Array.from({ length: subscriberCount }, (_, index) => {
      const origin = origins[index % origins.length] as string;
      const client = createClient({
        url: `${origin}/graphql/stream`,
        headers: { authorization: `Bearer ${api.adminKey}` },
        retryAttempts: 0,
        on: {
          connected: () => {
            connected++;
          },
        },
      });
      client.subscribe(
        { query: subscription },
        {
          next: (result) => {
            const event = (
              result.data as { credentialInvalidated?: { id: string; occurredAt: string } }
            )?.credentialInvalidated;
            if (!event) {
              failures++;
              sampleError ??= JSON.stringify(result).slice(0, 300);
              return;
            }
            received[index]?.push({
              roundId: event.id,
              at: Date.now(),
              occurredAt: Date.parse(event.occurredAt),
            });
          },
          error: (error) => {
            failures++;
            sampleError ??= error instanceof Error ? error.message : JSON.stringify(error);
          },
          complete: () => {},
        },
      );
      return client;
    });
    const deadline = Date.now() + 60_000;
    while (connected < subscriberCount && Date.now() < deadline && failures === 0) await sleep(100);
    if (connected < subscriberCount) {
      for (const client of clients) client.dispose();
      throw new Error(
        `only ${connected} of ${subscriberCount} subscribers connected${sampleError ? `: ${sampleError}` : ""}`,
      );
    }
    // Idle for a moment so the servers settle, then read their memory.
    await sleep(3_000);
    const rssIdle = pids.map(rssKb);
    const deltas = rssIdle.map((after, i) => (after ?? 0) - (rssBefore[i] ?? 0));
    const perSubscriberKb = deltas.reduce((a, b) => a + b, 0) / subscriberCount;

    const latenciesMs: number[] = [];
    const began = performance.now();
    const missing: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const credentialId = await createDoomedCredential(
        api,
        environmentId,
        `fanout-${round}-${Date.now()}`,
      );
      const countBefore = received.map((r) => r.length);
      await api.graphql(
        `mutation ($id: ID!) { deleteCredential(input: { id: $id, force: true }) { __typename } }`,
        { id: credentialId },
      );
      const roundDeadline = Date.now() + 10_000;
      while (
        received.some((r, i) => r.length <= (countBefore[i] ?? 0)) &&
        Date.now() < roundDeadline
      ) {
        await sleep(20);
      }
      let got = 0;
      for (const [i, list] of received.entries()) {
        const event = list[countBefore[i] ?? 0];
        if (!event) continue;
        got++;
        latenciesMs.push(event.at - event.occurredAt);
      }
      missing.push(subscriberCount - got);
      await sleep(500);
    }
    const durationSeconds = (performance.now() - began) / 1000;
    for (const client of clients) client.dispose();

    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const pick = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
    const p50 = pick(0.5);
    const p99 = pick(0.99);
    notes.push(
      `delivery latency (commit to arrival) over ${rounds} invalidations × ${subscriberCount} subscribers: ` +
        `p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms ` +
        `(target p99 <= 500 ms: ${p99 <= 500 ? "met" : "NOT met"})`,
      `subscribers missing an invalidation per round: ${missing.join(", ")} (must be 0)`,
      `resident memory per idle subscriber: ${perSubscriberKb.toFixed(1)} KB ` +
        `(instances grew ${deltas.map((d) => `${(d / 1024).toFixed(1)} MB`).join(" and ")} for ${subscriberCount}; ` +
        `target <= 100 KB: ${perSubscriberKb <= 100 ? "met" : "NOT met"})`,
    );
    const result: BurstResult = {
      requests: latenciesMs.length,
      durationSeconds,
      latenciesMs,
      errors: failures + missing.reduce((a, b) => a + b, 0),
      sampleError,
      notes,
    };
    return result;
  },
};
