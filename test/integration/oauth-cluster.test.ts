// One refresh per credential across a cluster. Three keyport instances share one database (three
// server processes on PostgreSQL when DATABASE_URL is set); a real authorization server rotates
// refresh tokens and revokes the whole grant on reuse, so any double refresh would show.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { type Cluster, graphqlRequest, type Instance, startCluster } from "../helpers/cluster.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { testKeyRing } from "../helpers/keyring.js";
import { type OidcServer, startOidcServer } from "../helpers/oidc-server.js";

const ClusterCreateCredential = graphql(`
  mutation ClusterCreateCredential($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ... on CredentialBase {
            id
          }
        }
      }
      ... on Error {
        message
      }
    }
  }
`);

const ClusterAuthorize = graphql(`
  mutation ClusterAuthorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
      }
    }
  }
`);

const ClusterEnvironments = graphql(`
  query ClusterEnvironments {
    viewer {
      workspace {
        environments {
          id
          slug
        }
      }
    }
  }
`);

async function developmentEnvironment(instance: Instance, key: string) {
  const result = await graphqlRequest(instance, key, ClusterEnvironments, {});
  const id = result.data?.viewer.workspace.environments.find((e) => e.slug === "development")?.id;
  if (!id) throw new Error(`no environment: ${JSON.stringify(result)}`);
  return id;
}

async function create(instance: Instance, key: string, input: Record<string, unknown>) {
  const environmentId = await developmentEnvironment(instance, key);
  const result = await graphqlRequest(instance, key, ClusterCreateCredential, {
    input: { environmentId, ...input } as never,
  });
  const payload = result.data?.createCredential;
  if (payload?.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(result));
  return payload.credential.id;
}

async function acquire(instance: Instance, key: string, credentialId: string) {
  const result = await graphqlRequest(instance, key, AcquireHeadersMutation, {
    input: { credentialId },
  });
  const payload = result.data?.acquireCredentialHeaders;
  return payload?.__typename === "AcquireCredentialHeadersSuccess"
    ? (payload.headers[0]?.value ?? "no header")
    : JSON.stringify(result);
}

describe("single flight across instances", () => {
  let oidc: OidcServer;
  let cluster: Cluster;
  const callbackPath = "/oauth/callback";

  beforeAll(async () => {
    cluster = await startCluster(3);
    oidc = await startOidcServer({
      clients: [
        {
          clientId: "cluster",
          clientSecret: "cluster-secret",
          redirectUris: ["http://keyport.test/oauth/callback"],
        },
      ],
      rotateRefreshToken: true,
    });
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
    await oidc?.close();
  });

  it("200 concurrent acquires on an expired credential make exactly one refresh grant, five times running", {
    timeout: 120_000,
  }, async () => {
    const [first] = cluster.instances;
    if (!first) throw new Error("no instance");
    const redirectUri = "http://keyport.test/oauth/callback";
    const credentialId = await create(first, cluster.adminKey, {
      name: "shared",
      oauth2: {
        clientId: "cluster",
        clientSecret: "cluster-secret",
        issuer: oidc.issuer,
        scopes: ["openid"],
      },
    });
    const started = await graphqlRequest(first, cluster.adminKey, ClusterAuthorize, {
      input: { id: credentialId, redirectUri },
    });
    const url =
      started.data?.authorizeCredential.__typename === "AuthorizeCredentialSuccess"
        ? started.data.authorizeCredential.authorizationUrl
        : "";
    const redirect = await oidc.authorize(url);
    const callback = await first.fetch(`${callbackPath}${redirect.search}`);
    expect(callback.status).toBe(200);

    const rawId = (
      await cluster.database.prisma.credential.findFirstOrThrow({ where: { name: "shared" } })
    ).id;
    for (let round = 0; round < 5; round++) {
      await cluster.database.prisma.credential.update({
        where: { id: rawId },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      oidc.resetCounts();
      const values = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          acquire(
            cluster.instances[i % cluster.instances.length] as Instance,
            cluster.adminKey,
            credentialId,
          ),
        ),
      );
      expect(oidc.counts.refreshGrants).toBe(1);
      expect(oidc.counts.revokedGrants).toBe(0);
      expect(oidc.counts.grantErrors).toEqual([]);
      expect(new Set(values).size).toBe(1);
      expect(values[0]).toMatch(/^Bearer \S+$/);
    }
    const row = await cluster.database.prisma.credential.findUniqueOrThrow({
      where: { id: rawId },
    });
    expect(row.status).toBe("ACTIVE");
    expect(row.leaseOwner).toBeNull();
  });
});

/** A token endpoint whose first response waits until the test releases it. */
function startHeldTokenEndpoint() {
  const requests: { refreshToken: string | null; at: number }[] = [];
  let releaseFirst: () => void = () => {};
  const firstReleased = new Promise<void>((resolve) => {
    releaseFirst = resolve;
  });
  let firstArrived: () => void = () => {};
  const firstReceived = new Promise<void>((resolve) => {
    firstArrived = resolve;
  });
  const server: Server = createServer(
    async (request: IncomingMessage, response: ServerResponse) => {
      let body = "";
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const index = requests.push({ refreshToken: form.get("refresh_token"), at: Date.now() });
      if (index === 1) {
        firstArrived();
        await firstReleased;
      }
      response.writeHead(200, { "content-type": "application/json", connection: "close" });
      response.end(
        JSON.stringify({
          access_token: `access-from-call-${index}`,
          refresh_token: `refresh-from-call-${index}`,
          token_type: "Bearer",
          expires_in: 3600,
        }),
      );
    },
  );
  return new Promise<{
    url: string;
    requests: typeof requests;
    firstReceived: Promise<void>;
    releaseFirst: () => void;
    close(): Promise<void>;
  }>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/token`,
        requests,
        firstReceived,
        releaseFirst: () => releaseFirst(),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

describe("a lease holder that stalls past its lease", () => {
  it("cannot overwrite the tokens another instance refreshed meanwhile (frozen with SIGSTOP on PostgreSQL)", {
    timeout: 120_000,
  }, async () => {
    const endpoint = await startHeldTokenEndpoint();
    // A short per-attempt timeout keeps the lease (and so this test) short.
    const cluster = await startCluster(2, { TOKEN_REQUEST_TIMEOUT_MS: "300" });
    try {
      const [holder, other] = cluster.instances as [Instance, Instance];
      const credentialId = await create(holder, cluster.adminKey, {
        name: "stalled",
        oauth2: {
          clientId: "c",
          clientSecret: "stall-secret",
          authorizationUrl: "http://127.0.0.1:9/authorize",
          tokenUrl: endpoint.url,
          accessToken: "original-access",
          refreshToken: "original-refresh",
          expiresAt: new Date(Date.now() - 1000).toISOString(),
        },
      });
      const rawId = (
        await cluster.database.prisma.credential.findFirstOrThrow({ where: { name: "stalled" } })
      ).id;
      expect(credentialId).toBe(encodeGlobalID("OAuth2Credential", rawId));

      // The holder takes the lease and sends its refresh; it stalls before the answer is
      // written: a real process is frozen with SIGSTOP, an in-process instance waits in the
      // refresher's fault-injection hook.
      let resume: () => void = () => {};
      const stalled = new Promise<void>((resolve) => {
        resume = resolve;
      });
      if (holder.refresher) holder.refresher.onTokenResponse = () => stalled;
      const holderResult = acquire(holder, cluster.adminKey, credentialId);
      await endpoint.firstReceived;
      if (holder.pid) process.kill(holder.pid, "SIGSTOP");
      endpoint.releaseFirst();

      // Once the lease lapses, the other instance refreshes (with the same stored refresh token).
      await expect
        .poll(
          async () => {
            const row = await cluster.database.prisma.credential.findUniqueOrThrow({
              where: { id: rawId },
            });
            return row.leaseExpiresAt !== null && row.leaseExpiresAt.getTime() < Date.now();
          },
          { timeout: 60_000, interval: 250 },
        )
        .toBe(true);
      const otherResult = await acquire(other, cluster.adminKey, credentialId);
      expect(otherResult).toBe("Bearer access-from-call-2");

      if (holder.pid) process.kill(holder.pid, "SIGCONT");
      resume();
      // The holder's late write is fenced off; it hands out the newer token.
      expect(await holderResult).toBe("Bearer access-from-call-2");
      expect(endpoint.requests.map((r) => r.refreshToken)).toEqual([
        "original-refresh",
        "original-refresh",
      ]);

      const row = await cluster.database.prisma.credential.findUniqueOrThrow({
        where: { id: rawId },
        include: { secrets: true },
      });
      expect(row.status).toBe("ACTIVE");
      const refresh = row.secrets.find((s) => s.field === "refreshToken");
      expect(
        await testKeyRing().decrypt(refresh?.ciphertext ?? "", {
          workspaceId: row.workspaceId,
          credentialId: row.id,
          field: "refreshToken",
        }),
      ).toBe("refresh-from-call-2");
      // Nothing else hit the endpoint: no token was lost and no third refresh was needed.
      expect(await acquire(other, cluster.adminKey, credentialId)).toBe(
        "Bearer access-from-call-2",
      );
      expect(endpoint.requests).toHaveLength(2);
      await expect.poll(() => holder.logs.join("\n")).toMatch(/lease lost/);
    } finally {
      await cluster.close();
      await endpoint.close();
    }
  });
});
