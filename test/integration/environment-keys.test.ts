// A key limited to one environment (here: development) stays in it. Matrix: every operation ×
// an object of its own environment (allowed) and of another environment or workspace-wide (it
// behaves exactly like an object that does not exist). Operations that act on the whole
// workspace are refused with a clear FORBIDDEN.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import { CredentialQuery, RewrapSecretsMutation } from "../helpers/credential-documents.js";
import { createCredential, environmentIds } from "../helpers/credentials.js";
import {
  ApiKeysQuery,
  CreateApiKeyMutation,
  CreateEnvironmentMutation,
  CreateWorkspaceMutation,
  NodeQuery,
  RevokeApiKeyMutation,
  ViewerQuery,
} from "../helpers/documents.js";
import { startTokenStub, type TokenStub, tokenReply } from "../helpers/token-stub.js";

const EnvAuthorizeMutation = graphql(`
  mutation EnvAuthorize($input: AuthorizeCredentialInput!) {
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

const EnvCompleteMutation = graphql(`
  mutation EnvComplete($input: CompleteAuthorizationInput!) {
    completeAuthorization(input: $input) {
      __typename
      ... on CompleteAuthorizationSuccess {
        credential {
          __typename
          ... on OAuth2Credential {
            id
            status
            environment {
              slug
            }
          }
        }
      }
      ... on CredentialProviderError {
        code
        message
      }
      ... on Error {
        message
      }
    }
  }
`);

const EnvCredentialsQuery = graphql(`
  query EnvCredentials {
    credentials(first: 50) {
      edges {
        node {
          id
          environment {
            slug
          }
        }
      }
    }
  }
`);

const missingId = (typename: string) =>
  encodeGlobalID(typename, "01900000-0000-7000-8000-00000000beef");

describe("keys limited to one environment", () => {
  let app: TestApp;
  let stub: TokenStub;
  let env: Record<string, string>;
  /** An admin key limited to development, and one with the credential scopes only. */
  let devAdmin: string;
  let devUser: string;
  const credentialIn: Record<"development" | "production", { id: string }> = {} as never;
  const apiKeyIn = {} as Record<"development" | "production" | "workspace", { id: string }>;

  async function createApiKey(
    name: string,
    scopes: string[],
    environmentId?: string,
    key = app.adminKey,
  ) {
    const result = dataOf(
      await app.execute(CreateApiKeyMutation, { input: { name, scopes, environmentId } }, { key }),
    ).createApiKey;
    if (result.__typename !== "CreateApiKeySuccess") throw new Error(JSON.stringify(result));
    return result;
  }

  beforeAll(async () => {
    [app, stub] = await Promise.all([startTestApp(), startTokenStub()]);
    env = await environmentIds(app);
    devAdmin = (await createApiKey("dev admin", ["admin"], env.development)).key;
    devUser = (
      await createApiKey(
        "dev user",
        ["credentials:read", "credentials:write", "credentials:use"],
        env.development,
      )
    ).key;
    for (const slug of ["development", "production"] as const) {
      credentialIn[slug] = await createCredential(app, {
        name: `oauth ${slug}`,
        environmentId: env[slug],
        oauth2: {
          clientId: "client",
          clientSecret: `secret-${slug}`,
          authorizationUrl: "https://auth.example/authorize",
          tokenUrl: stub.tokenUrl,
          scopes: ["read"],
        },
      });
      apiKeyIn[slug] = (
        await createApiKey(`key in ${slug}`, ["connectors:read"], env[slug])
      ).apiKey;
    }
    apiKeyIn.workspace = (await createApiKey("workspace-wide key", ["connectors:read"])).apiKey;
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await stub.close();
  });

  /** A fresh authorization state for a credential, started by the unrestricted admin key. */
  async function stateFor(slug: "development" | "production") {
    const started = dataOf(
      await app.execute(EnvAuthorizeMutation, { input: { id: credentialIn[slug].id } }),
    ).authorizeCredential;
    if (started.__typename !== "AuthorizeCredentialSuccess") throw new Error("authorize failed");
    return started.state;
  }

  describe("completeAuthorization", () => {
    for (const key of ["devUser", "devAdmin"] as const) {
      it(`${key}: completes a state of its own environment and reads the credential back`, async () => {
        stub.script(tokenReply({ access_token: "at-dev", refresh_token: "rt-dev" }));
        const state = await stateFor("development");
        const result = dataOf(
          await app.execute(
            EnvCompleteMutation,
            { input: { state, code: "code-1" } },
            { key: key === "devUser" ? devUser : devAdmin },
          ),
        ).completeAuthorization;
        expect(result).toMatchObject({
          __typename: "CompleteAuthorizationSuccess",
          credential: {
            id: credentialIn.development.id,
            status: "ACTIVE",
            environment: { slug: "development" },
          },
        });
        expect(stub.requests).toHaveLength(1);
      });

      it(`${key}: a state of another environment answers like an unknown state, with no token request and without using it up`, async () => {
        stub.script(tokenReply({ access_token: "at-prod", refresh_token: "rt-prod" }));
        const state = await stateFor("production");
        const complete = (input: { state: string; code: string }, k: string) =>
          app.execute(EnvCompleteMutation, { input }, { key: k });
        const foreign = await complete(
          { state, code: "code-2" },
          key === "devUser" ? devUser : devAdmin,
        );
        const unknown = await complete(
          { state: "an-unknown-state-of-the-right-shape-0123456789", code: "code-2" },
          key === "devUser" ? devUser : devAdmin,
        );
        expect(foreign).toEqual(unknown);
        expect(dataOf(foreign).completeAuthorization).toMatchObject({
          __typename: "CredentialProviderError",
          code: "AUTHORIZATION_FAILED",
        });
        expect(JSON.stringify(foreign)).not.toContain(credentialIn.production.id);
        expect(stub.requests).toHaveLength(0);
        // Nothing was recorded against the production credential, and the state still works for
        // a key that may use it.
        const events = await app.database.prisma.credentialEvent.count({
          where: { type: "AUTHORIZATION_FAILED" },
        });
        expect(events).toBe(0);
        const rightful = dataOf(
          await complete({ state, code: "code-2" }, app.adminKey),
        ).completeAuthorization;
        expect(rightful.__typename).toBe("CompleteAuthorizationSuccess");
        expect(stub.requests).toHaveLength(1);
      });
    }
  });

  describe("credential reads", () => {
    it("credential(id) and node(id): own environment found, another environment null like a missing id", async () => {
      for (const document of [CredentialQuery, NodeQuery] as const) {
        const field = document === CredentialQuery ? "credential" : "node";
        const own = await app.execute(
          document as typeof CredentialQuery,
          { id: credentialIn.development.id },
          { key: devUser },
        );
        expect((dataOf(own) as Record<string, { id?: string } | null>)[field]?.id).toBe(
          credentialIn.development.id,
        );
        const other = await app.execute(
          document as typeof CredentialQuery,
          { id: credentialIn.production.id },
          { key: devUser },
        );
        const missing = await app.execute(
          document as typeof CredentialQuery,
          { id: missingId("OAuth2Credential") },
          { key: devUser },
        );
        expect(other).toEqual(missing);
        expect(other).toEqual({ data: { [field]: null } });
      }
    });

    it("viewer.workspace.environments shows only its own environment", async () => {
      const { environments } = dataOf(await app.execute(ViewerQuery, undefined, { key: devUser }))
        .viewer.workspace;
      expect(environments.map((e) => e.slug)).toEqual(["development"]);
      const all = dataOf(await app.execute(ViewerQuery)).viewer.workspace.environments;
      expect(all.map((e) => e.slug)).toEqual(["development", "production"]);
    });

    it("credentials lists only its own environment", async () => {
      const edges = dataOf(await app.execute(EnvCredentialsQuery, undefined, { key: devUser }))
        .credentials.edges;
      expect(edges.map((e) => e.node.id)).toEqual([credentialIn.development.id]);
    });
  });

  describe("API keys", () => {
    it("viewer.workspace.apiKeys lists only keys limited to its own environment", async () => {
      const listed = dataOf(
        await app.execute(ApiKeysQuery, { first: 50 }, { key: devAdmin }),
      ).viewer.workspace.apiKeys.edges.map((e) => e.node);
      expect(listed.map((k) => k.id)).toContain(apiKeyIn.development.id);
      expect(listed.map((k) => k.id)).not.toContain(apiKeyIn.production.id);
      expect(listed.map((k) => k.id)).not.toContain(apiKeyIn.workspace.id);
      expect(new Set(listed.map((k) => k.environment?.slug))).toEqual(new Set(["development"]));
      // The unrestricted admin key still sees every key.
      const all = dataOf(
        await app.execute(ApiKeysQuery, { first: 50 }),
      ).viewer.workspace.apiKeys.edges.map((e) => e.node.id);
      expect(all).toEqual(expect.arrayContaining(Object.values(apiKeyIn).map((k) => k.id)));
    });

    const others = ["production", "workspace"] as const;
    it("node(id): its own environment's key found, others null like a missing id", async () => {
      const own = dataOf(
        await app.execute(NodeQuery, { id: apiKeyIn.development.id }, { key: devAdmin }),
      );
      expect(own.node?.id).toBe(apiKeyIn.development.id);
      const missing = await app.execute(NodeQuery, { id: missingId("ApiKey") }, { key: devAdmin });
      for (const where of others) {
        const other = await app.execute(NodeQuery, { id: apiKeyIn[where].id }, { key: devAdmin });
        expect(other).toEqual(missing);
        expect(other).toEqual({ data: { node: null } });
      }
    });

    it("revokeApiKey: others answer NotFoundError like a missing id and stay valid; its own environment's key is revoked", async () => {
      const missing = await app.execute(
        RevokeApiKeyMutation,
        { input: { id: missingId("ApiKey") } },
        { key: devAdmin },
      );
      expect(dataOf(missing).revokeApiKey.__typename).toBe("NotFoundError");
      for (const where of others) {
        const other = await app.execute(
          RevokeApiKeyMutation,
          { input: { id: apiKeyIn[where].id } },
          { key: devAdmin },
        );
        expect(other).toEqual(missing);
      }
      const revokedOthers = await app.database.prisma.apiKey.count({
        where: {
          name: { in: ["key in production", "workspace-wide key"] },
          revokedAt: { not: null },
        },
      });
      expect(revokedOthers).toBe(0);
      const own = dataOf(
        await app.execute(
          RevokeApiKeyMutation,
          { input: { id: apiKeyIn.development.id } },
          { key: devAdmin },
        ),
      ).revokeApiKey;
      expect(own).toMatchObject({
        __typename: "RevokeApiKeySuccess",
        apiKey: { id: apiKeyIn.development.id },
      });
    });

    it("createApiKey: only for its own environment", async () => {
      const own = await createApiKey("dev made", ["connectors:read"], undefined, devAdmin);
      expect(own.apiKey.environment?.slug).toBe("development");
      const other = dataOf(
        await app.execute(
          CreateApiKeyMutation,
          { input: { name: "x", scopes: ["connectors:read"], environmentId: env.production } },
          { key: devAdmin },
        ),
      ).createApiKey;
      expect(other).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "environmentId"] }],
      });
    });
  });

  describe("operations on the whole workspace", () => {
    it("refuses rewrapSecrets, createEnvironment and createWorkspace with a clear FORBIDDEN", async () => {
      const attempts = [
        await app.execute(RewrapSecretsMutation, { input: {} }, { key: devAdmin }),
        await app.execute(
          CreateEnvironmentMutation,
          { input: { slug: "from-dev", name: "From dev" } },
          { key: devAdmin },
        ),
      ];
      for (const result of attempts) {
        expect(result.data ?? null).toBeNull();
        expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
        expect(result.errors?.[0]?.message).toMatch(/not limited to one environment/);
      }
      expect(await app.database.prisma.environment.count({ where: { slug: "from-dev" } })).toBe(0);
      // A platform key limited to an environment cannot create workspaces either.
      const devPlatform = (await createApiKey("dev platform", ["platform"], env.development)).key;
      const workspace = await app.execute(
        CreateWorkspaceMutation,
        { input: { slug: "from-dev", name: "From dev" } },
        { key: devPlatform },
      );
      expect(errorCodes(workspace)).toEqual(["FORBIDDEN"]);
      expect(workspace.errors?.[0]?.message).toMatch(/not limited to one environment/);
      expect(await app.database.prisma.workspace.count({ where: { slug: "from-dev" } })).toBe(0);
      // The unrestricted admin key still may.
      const allowed = dataOf(
        await app.execute(CreateEnvironmentMutation, {
          input: { slug: "by-admin", name: "By admin" },
        }),
      ).createEnvironment;
      expect(allowed.__typename).toBe("CreateEnvironmentSuccess");
      const rewrap = dataOf(await app.execute(RewrapSecretsMutation, { input: {} })).rewrapSecrets;
      expect(rewrap.__typename).toBe("RewrapSecretsSuccess");
    });
  });
});
