// Cross-instance delivery: two keyport instances on one database (server processes on PostgreSQL
// when DATABASE_URL is set) and one Redis when REDIS_URL is set (else the in-process instances
// share one bus). A refresh answered with invalid_grant, triggered by an acquire on instance A,
// reaches subscribers on instance B over the graphql-sse client and the graphql-ws client, with
// the connectors that depend on the credential.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, graphqlRequest, type Instance, startCluster } from "../helpers/cluster.js";
import { createConnectorOn, createCredentialOn } from "../helpers/cluster-subscriptions.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { subscribe, type Transport } from "../helpers/subscribers.js";
import {
  ConnectorCredentialStatusSubscription,
  CredentialInvalidatedSubscription,
} from "../helpers/subscription-documents.js";
import { oauthErrorReply, startTokenStub, type TokenStub } from "../helpers/token-stub.js";

let cluster: Cluster;
let stub: TokenStub;
let a: Instance;
let b: Instance;

beforeAll(async () => {
  stub = await startTokenStub();
  stub.script(oauthErrorReply("invalid_grant"));
  cluster = await startCluster(2, {
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    SUBSCRIPTION_RECHECK_INTERVAL: "1s",
  });
  [a, b] = cluster.instances as [Instance, Instance];
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await stub?.close();
});

let counter = 0;
async function doomedCredential() {
  counter++;
  const credentialId = await createCredentialOn(a, cluster.adminKey, {
    name: `cluster-doomed-${counter}`,
    verify: false,
    oauth2: {
      clientId: "client",
      clientSecret: "client-secret-value",
      authorizationUrl: "https://provider.example/authorize",
      tokenUrl: stub.tokenUrl,
      accessToken: `expired-access-${counter}`,
      refreshToken: `revoked-refresh-${counter}`,
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    },
  });
  const connectorId = await createConnectorOn(a, cluster.adminKey, credentialId, `sync-${counter}`);
  return { credentialId, connectorId };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

describe.each(["sse-single", "sse-distinct", "ws"] as Transport[])("over %s", (transport) => {
  it("an invalidation caused on instance A reaches subscribers on instance B", async () => {
    const { credentialId, connectorId } = await doomedCredential();
    const invalidated = subscribe(
      transport,
      b.origin,
      cluster.adminKey,
      CredentialInvalidatedSubscription,
      {},
    );
    const byConnector = subscribe(
      transport,
      b.origin,
      cluster.adminKey,
      ConnectorCredentialStatusSubscription,
      { connectorId },
    );
    await settle();

    const acquired = await graphqlRequest(a, cluster.adminKey, AcquireHeadersMutation, {
      input: { credentialId },
    });
    expect(acquired.data?.acquireCredentialHeaders.__typename).not.toBe(
      "AcquireCredentialHeadersSuccess",
    );

    await invalidated.waitFor(1);
    const event = invalidated.data[0]?.credentialInvalidated;
    expect(event?.credential).toMatchObject({ id: credentialId });
    expect(event?.status).toBe("INVALID");
    expect(event?.reason?.code).toBe("REFRESH_TOKEN_REVOKED");
    expect(event?.dependentConnectors.map((c) => c.id)).toEqual([connectorId]);

    await byConnector.waitFor(1);
    expect(byConnector.data.map((d) => d.connectorCredentialStatus.status)).toContain("INVALID");
    await invalidated.dispose();
    await byConnector.dispose();
  }, 60_000);
});
