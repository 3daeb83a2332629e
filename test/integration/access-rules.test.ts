// Type-level access rules: every scope set × every read path × every sensitive field. What
// `credential(id)` enforces (credentials:read; Secret.value also credentials:use) holds on
// `credentials`, on `node(id)` and on credentials nested in mutation results, with canary values
// that must never appear where they are not allowed.
import { randomBytes } from "node:crypto";
import { encodeGlobalID } from "@pothos/plugin-relay";
import type { ExecutionResult } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";

graphql(`
  fragment AccessFields on CredentialBase {
    __typename
    id
    name
    statusReason {
      message
    }
    history(first: 2) {
      edges {
        node {
          type
          reason {
            message
          }
        }
      }
    }
    ... on BasicCredential {
      username
      host
      password {
        isSet
        preview
        fingerprint
        value
      }
    }
    ... on BearerCredential {
      token {
        isSet
        preview
        fingerprint
        value
      }
      refreshToken {
        isSet
        preview
        fingerprint
        value
      }
      refreshRequest {
        endpoint
        headers {
          name
          value
        }
      }
    }
    ... on OAuth2Credential {
      clientId
      clientSecret {
        isSet
        preview
        fingerprint
        value
      }
    }
    ... on ClientCredentialsCredential {
      clientId
      clientSecret {
        isSet
        preview
        fingerprint
        value
      }
    }
  }
`);

const AccessCredentialQuery = graphql(`
  query AccessCredential($id: ID!) {
    credential(id: $id) {
      ...AccessFields
    }
  }
`);

const AccessCredentialsQuery = graphql(`
  query AccessCredentials {
    credentials(first: 5) {
      edges {
        node {
          ...AccessFields
        }
      }
    }
  }
`);

const AccessNodeQuery = graphql(`
  query AccessNode($id: ID!) {
    node(id: $id) {
      ...AccessFields
    }
  }
`);

const AccessUpdateMutation = graphql(`
  mutation AccessUpdate($input: UpdateCredentialInput!) {
    updateCredential(input: $input) {
      __typename
      ... on UpdateCredentialSuccess {
        credential {
          ...AccessFields
        }
      }
    }
  }
`);

const canary = (label: string) => `${label}-canary-${randomBytes(9).toString("hex")}`;

// Secret values: only `Secret.value` may show them, and only with credentials:read + use.
const secrets = {
  password: canary("password"),
  token: canary("token"),
  refreshToken: canary("refresh"),
  oauthSecret: canary("oauth-secret"),
  clientSecret: canary("cc-secret"),
};
// Settings and history: shown with credentials:read, never without it.
const settings = {
  username: canary("user"),
  host: `${canary("host")}.example`,
  clientId: canary("client"),
  eventMessage: canary("history"),
};
// A token-request header that is more than placeholders is a secret: masked for every caller.
const templateHeader = canary("template-header");

const scopeSets = {
  "connectors:read": ["connectors:read"],
  "credentials:use": ["credentials:use"],
  "credentials:write": ["credentials:write"],
  "credentials:read": ["credentials:read"],
  "credentials:read+use": ["credentials:read", "credentials:use"],
  admin: ["admin"],
} as const;
type ScopeSetName = keyof typeof scopeSets;

type Path = "credential(id)" | "credentials" | "node(id)" | "updateCredential.credential";

describe("type-level access rules on every path to a credential", () => {
  let app: TestApp;
  const keys = {} as Record<ScopeSetName, string>;
  const credentials: { id: string; name: string; typename: string }[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    for (const name of Object.keys(scopeSets) as ScopeSetName[]) {
      keys[name] = await createKey(app, [...scopeSets[name]]);
    }
    const inputs = [
      { basic: { username: settings.username, password: secrets.password, host: settings.host } },
      {
        bearer: {
          token: secrets.token,
          refreshToken: secrets.refreshToken,
          refreshRequest: {
            endpoint: "https://tokens.example/refresh",
            headers: [{ name: "X-Partner", value: templateHeader }],
            accessTokenPath: "access_token",
          },
        },
      },
      {
        oauth2: {
          clientId: settings.clientId,
          clientSecret: secrets.oauthSecret,
          authorizationUrl: "https://auth.example/authorize",
          tokenUrl: "https://auth.example/token",
          scopes: ["read"],
        },
      },
      {
        clientCredentials: {
          clientId: settings.clientId,
          clientSecret: secrets.clientSecret,
          tokenUrl: "https://auth.example/token",
        },
        verify: false,
      },
    ];
    for (const [index, input] of inputs.entries()) {
      const created = await createCredential(app, { name: `access-${index}`, ...input });
      credentials.push({ id: created.id, name: created.name, typename: created.__typename });
    }
    // A history entry whose message is a canary, on every credential.
    const rows = await app.database.prisma.credential.findMany({
      select: { id: true, environmentId: true },
    });
    const workspace = await app.database.prisma.workspace.findFirstOrThrow();
    for (const row of rows) {
      await app.database.prisma.credentialEvent.create({
        data: {
          workspaceId: workspace.id,
          environmentId: row.environmentId,
          credentialId: row.id,
          type: "REFRESH_FAILED",
          status: "ACTIVE",
          reasonCode: "PROVIDER_UNAVAILABLE",
          reasonMessage: settings.eventMessage,
        },
      });
    }
  }, 60_000);
  afterAll(() => app.close());

  async function read(path: Path, scopeSet: ScopeSetName, credential: (typeof credentials)[0]) {
    const key = keys[scopeSet];
    switch (path) {
      case "credential(id)": {
        const result = await app.execute(AccessCredentialQuery, { id: credential.id }, { key });
        return { result, objects: [result.data?.credential ?? null] };
      }
      case "credentials": {
        const result = await app.execute(AccessCredentialsQuery, undefined, { key });
        const node = result.data?.credentials.edges.find((e) => e.node.id === credential.id);
        return { result, objects: [node?.node ?? null], all: result.data?.credentials ?? null };
      }
      case "node(id)": {
        const result = await app.execute(AccessNodeQuery, { id: credential.id }, { key });
        return { result, objects: [result.data?.node ?? null] };
      }
      case "updateCredential.credential": {
        const result = await app.execute(
          AccessUpdateMutation,
          { input: { id: credential.id, name: credential.name } },
          { key },
        );
        const payload = result.data?.updateCredential;
        return {
          result,
          objects: [payload?.__typename === "UpdateCredentialSuccess" ? payload.credential : null],
        };
      }
    }
  }

  const paths: Path[] = [
    "credential(id)",
    "credentials",
    "node(id)",
    "updateCredential.credential",
  ];
  const canRead = (s: ScopeSetName) =>
    s === "credentials:read" || s === "credentials:read+use" || s === "admin";
  const canUse = (s: ScopeSetName) => s === "credentials:read+use" || s === "admin";
  const canWrite = (s: ScopeSetName) => s === "credentials:write" || s === "admin";

  const expectNoCanary = (result: ExecutionResult<unknown>, values: string[]) => {
    const text = JSON.stringify(result);
    for (const value of values) expect(text).not.toContain(value);
  };

  for (const scopeSet of Object.keys(scopeSets) as ScopeSetName[]) {
    for (const path of paths) {
      // The mutation path needs credentials:write to start with; the others credentials:read.
      const allowed =
        path === "updateCredential.credential"
          ? canWrite(scopeSet) && canRead(scopeSet)
          : canRead(scopeSet);
      const title = allowed
        ? canUse(scopeSet)
          ? "shows settings, history and secret values"
          : "shows settings and history, every Secret.value null"
        : "answers FORBIDDEN with no data";
      it(`${scopeSet} × ${path}: ${title}`, async () => {
        for (const credential of credentials) {
          const { result, objects } = await read(path, scopeSet, credential);
          if (!allowed) {
            expect(errorCodes(result).length).toBeGreaterThan(0);
            expect(new Set(errorCodes(result))).toEqual(new Set(["FORBIDDEN"]));
            // Each refusal names the scope that is missing, in words and as data.
            const missing =
              path === "updateCredential.credential" && !canWrite(scopeSet)
                ? "credentials:write"
                : "credentials:read";
            for (const error of result.errors ?? []) {
              expect(error.message).toBe(`Not allowed. Requires scope ${missing}.`);
              expect(error.extensions?.requiredScopes).toEqual([missing]);
            }
            expect(objects).toEqual([null]);
            expectNoCanary(result, [
              ...Object.values(secrets),
              ...Object.values(settings),
              templateHeader,
            ]);
            // Not even a preview or fingerprint of a secret.
            expect(JSON.stringify(result)).not.toMatch(/••••|"isSet"|"fingerprint"/);
            continue;
          }
          expect(result.errors).toBeUndefined();
          const object = objects[0] as Record<string, unknown> | null;
          expect(object?.id).toBe(credential.id);
          const text = JSON.stringify(object);
          expect(text).toContain(settings.eventMessage);
          if (credential.typename === "BasicCredential") {
            expect(object).toMatchObject({ username: settings.username, host: settings.host });
          }
          if (credential.typename === "BearerCredential") {
            expect(object?.refreshRequest).toMatchObject({
              headers: [{ name: "X-Partner", value: "••••••••" }],
            });
            expect(text).not.toContain(templateHeader);
          }
          const secretFields = Object.values(object ?? {}).filter(
            (value): value is { isSet: boolean; preview: string | null; value: string | null } =>
              !!value && typeof value === "object" && "isSet" in value,
          );
          expect(secretFields.length).toBeGreaterThan(0);
          for (const secret of secretFields) {
            expect(secret.isSet).toBe(true);
            expect(secret.preview).toMatch(/^••••/);
          }
          if (canUse(scopeSet)) {
            expect(secretFields.map((s) => s.value)).toContain(
              {
                BasicCredential: secrets.password,
                BearerCredential: secrets.token,
                OAuth2Credential: secrets.oauthSecret,
                ClientCredentialsCredential: secrets.clientSecret,
              }[credential.typename],
            );
          } else {
            expect(secretFields.map((s) => s.value)).toEqual(secretFields.map(() => null));
            expectNoCanary(result, [...Object.values(secrets), templateHeader]);
          }
        }
      });
    }
  }

  it("node(id) refuses a credential id to a caller without credentials:read whether or not it exists", async () => {
    const missing = encodeGlobalID("BasicCredential", "01900000-0000-7000-8000-00000000dead");
    for (const scopeSet of ["connectors:read", "credentials:use", "credentials:write"] as const) {
      for (const id of [credentials[0]?.id ?? "", missing]) {
        const result = await app.execute(AccessNodeQuery, { id }, { key: keys[scopeSet] });
        expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
        expect(result.errors?.[0]?.extensions?.requiredScopes).toEqual(["credentials:read"]);
        expect(result.data).toEqual({ node: null });
      }
    }
    // With credentials:read, an id that does not exist is simply null.
    const result = await app.execute(
      AccessNodeQuery,
      { id: missing },
      { key: keys["credentials:read"] },
    );
    expect(dataOf(result)).toEqual({ node: null });
  });

  it("FORBIDDEN names the missing scope: acquireCredentialHeaders needs credentials:use", async () => {
    for (const scopeSet of ["credentials:read", "credentials:write", "connectors:read"] as const) {
      const result = await app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: credentials[0]?.id ?? "" } },
        { key: keys[scopeSet] },
      );
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]?.message).toBe("Not allowed. Requires scope credentials:use.");
      expect(result.errors?.[0]?.extensions).toEqual({
        code: "FORBIDDEN",
        requiredScopes: ["credentials:use"],
      });
      expectNoCanary(result, Object.values(secrets));
    }
  });
});
