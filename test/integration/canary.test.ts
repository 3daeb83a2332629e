// Plants a unique canary in every secret field of every kind, drives the API through successes
// and failures, and looks for the canaries everywhere they must not be: responses (except
// Secret.value for credentials:use and the auth material of acquireCredentialHeaders), logs,
// audit entries, every database row, and the embedded database's files on disk.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CreateCredentialMutation,
  CredentialQuery,
  CredentialsQuery,
  DeleteCredentialMutation,
  NodeQueryCredential,
  RotateCredentialMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";

const canary = (field: string) => `CANARY${field}${randomBytes(12).toString("hex")}`;

const canaries = {
  basicPassword: canary("basicPassword"),
  bearerToken: canary("bearerToken"),
  bearerRefreshToken: canary("bearerRefresh"),
  oauthClientSecret: canary("oauthClientSecret"),
  oauthAccessToken: canary("oauthAccess"),
  oauthRefreshToken: canary("oauthRefresh"),
  ccClientSecret: canary("ccClientSecret"),
  ccAccessToken: canary("ccAccess"),
  rotatedPassword: canary("rotated"),
};
const allCanaries = Object.values(canaries);

function findCanaries(text: string): string[] {
  return allCanaries.filter((value) => text.includes(value));
}

/** Removes what a credentials:use caller may legitimately see: Secret.value and auth material. */
function withoutPermittedSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutPermittedSecrets);
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    const isSecret = entries.some(([key]) => key === "isSet");
    const isAuthMaterial =
      (value as { __typename?: string }).__typename === "AcquireCredentialHeadersSuccess";
    if (isAuthMaterial) return { __typename: "AcquireCredentialHeadersSuccess" };
    return Object.fromEntries(
      entries
        .filter(([key]) => !(isSecret && key === "value"))
        .map(([key, entry]) => [key, withoutPermittedSecrets(entry)]),
    );
  }
  return value;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe("canary sweep: secrets never leak", () => {
  let app: TestApp;
  let dataDir: string;
  let databaseUrl: string | undefined;
  let closed = false;
  const responses: { useScope: boolean; body: unknown }[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "keyport-canary-"));
    const testDatabase = await createTestDatabase(path.join(dataDir, "pglite"));
    databaseUrl = testDatabase.databaseUrl;
    app = await startTestApp({ testDatabase, env: { LOG_LEVEL: "debug" } });
  });
  afterAll(async () => {
    if (!closed) await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("finds no canary outside the places a credentials:use caller may see it", async () => {
    const writer = await createKey(app, ["credentials:read", "credentials:write"]);
    const reader = await createKey(app, ["credentials:read"]);
    const user = await createKey(app, ["credentials:read", "credentials:use"]);
    const callers = [
      { key: writer, useScope: false },
      { key: reader, useScope: false },
      { key: user, useScope: true },
      { key: app.adminKey, useScope: true },
    ];
    const record = async <T>(useScope: boolean, request: Promise<T>) => {
      const body = await request;
      responses.push({ useScope, body });
      return body;
    };
    const env = await environmentIds(app);

    const basic = await createCredential(
      app,
      { name: "canary basic", basic: { username: "u", password: canaries.basicPassword } },
      writer,
    );
    const bearer = await createCredential(
      app,
      {
        name: "canary bearer",
        bearer: { token: canaries.bearerToken, refreshToken: canaries.bearerRefreshToken },
      },
      writer,
    );
    const oauth = await createCredential(
      app,
      {
        name: "canary oauth",
        oauth2: {
          clientId: "c",
          clientSecret: canaries.oauthClientSecret,
          accessToken: canaries.oauthAccessToken,
          refreshToken: canaries.oauthRefreshToken,
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          authorizationUrl: "https://auth.example/authorize",
          tokenUrl: "https://auth.example/token",
        },
      },
      writer,
    );
    const cc = await createCredential(
      app,
      {
        name: "canary cc",
        verify: false,
        clientCredentials: {
          clientId: "c",
          clientSecret: canaries.ccClientSecret,
          tokenUrl: "https://auth.example/token",
        },
      },
      writer,
    );
    // A cached client-credentials token is not settable through the API; plant it as keyport would.
    const ccRow = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "canary cc" },
    });
    const { keyRing } = app.keyport.services;
    await app.database.prisma.credentialSecret.create({
      data: {
        credentialId: ccRow.id,
        field: "accessToken",
        ciphertext: await keyRing.encrypt(canaries.ccAccessToken, {
          workspaceId: ccRow.workspaceId,
          credentialId: ccRow.id,
          field: "accessToken",
        }),
        keyId: keyRing.activeKid,
        preview: null,
        fingerprint: keyRing.fingerprint(canaries.ccAccessToken),
      },
    });
    await app.database.prisma.credential.update({
      where: { id: ccRow.id },
      data: { expiresAt: new Date(Date.now() + 3_600_000) },
    });

    for (const { key, useScope } of callers) {
      await record(useScope, app.execute(CredentialsQuery, { first: 50 }, { key }));
      for (const credential of [basic, bearer, oauth, cc]) {
        await record(useScope, app.execute(CredentialQuery, { id: credential.id }, { key }));
        await record(useScope, app.execute(NodeQueryCredential, { id: credential.id }, { key }));
        await record(
          useScope,
          app.execute(AcquireHeadersMutation, { input: { credentialId: credential.id } }, { key }),
        );
        await record(
          useScope,
          app.execute(
            AcquireHeadersMutation,
            { input: { credentialId: credential.id, minValiditySeconds: 999_999 } },
            { key },
          ),
        );
      }
    }
    // Failures: validation errors echoing nothing, wrong kinds, duplicates, bad ids.
    await record(
      false,
      app.execute(
        UpdateCredentialMutation,
        { input: { id: bearer.id, basic: { username: canaries.bearerToken } } },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        UpdateCredentialMutation,
        { input: { id: bearer.id, bearer: { headerName: `bad header ${canaries.bearerToken}` } } },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        CreateCredentialMutation,
        {
          input: {
            name: "canary basic",
            environmentId: env.development,
            basic: { username: "u", password: canaries.basicPassword },
          },
        },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        CreateCredentialMutation,
        {
          input: {
            name: "x".repeat(300),
            environmentId: env.development,
            bearer: { token: canaries.bearerToken, placement: "QUERY" },
          },
        },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        RotateCredentialMutation,
        { input: { id: basic.id, secret: { token: canaries.rotatedPassword } } },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        RotateCredentialMutation,
        {
          input: {
            id: basic.id,
            secret: { password: canaries.rotatedPassword },
            overlapSeconds: 60,
          },
        },
        { key: writer },
      ),
    );
    await record(true, app.execute(CredentialQuery, { id: basic.id }, { key: user }));

    // The failure paths added with the trust rules: none may repeat a secret it was given.
    // Moving a destination without the secret, and a secret without a move.
    for (const input of [
      { id: oauth.id, oauth2: { tokenUrl: "https://collector.example/token" } },
      { id: cc.id, clientCredentials: { tokenUrl: "https://collector.example/token" } },
      { id: basic.id, basic: { host: "collector.example" } },
      { id: oauth.id, oauth2: { clientSecret: canaries.oauthClientSecret } },
      { id: basic.id, basic: { password: canaries.basicPassword } },
      { id: bearer.id, bearer: { refreshToken: canaries.bearerRefreshToken } },
    ]) {
      await record(false, app.execute(UpdateCredentialMutation, { input }, { key: writer }));
    }
    // A secret with a control character, and a refused address next to a secret.
    await record(
      false,
      app.execute(
        CreateCredentialMutation,
        {
          input: {
            name: "canary nul",
            environmentId: env.development,
            basic: { username: "u", password: `${canaries.basicPassword}\u0000\r\n` },
          },
        },
        { key: writer },
      ),
    );
    await record(
      false,
      app.execute(
        CreateCredentialMutation,
        {
          input: {
            name: "canary metadata address",
            environmentId: env.development,
            clientCredentials: {
              clientId: "c",
              clientSecret: canaries.ccClientSecret,
              tokenUrl: "http://169.254.169.254/token",
            },
          },
        },
        { key: writer },
      ),
    );
    // An issuer that cannot be discovered, with a client secret: the error names the issuer only.
    await record(
      false,
      app.execute(
        CreateCredentialMutation,
        {
          input: {
            name: "canary issuer",
            environmentId: env.development,
            oauth2: {
              clientId: "c",
              clientSecret: canaries.oauthClientSecret,
              issuer: "http://127.0.0.1:9/issuer",
            },
          },
        },
        { key: writer },
      ),
    );
    // Errors from before resolvers run: an unknown input field next to a password, and a body
    // that is not JSON.
    const raw = async (body: string) => {
      const response = await app.request("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${writer}` },
        body,
      });
      return { status: response.status, text: await response.text() };
    };
    await record(
      false,
      raw(
        JSON.stringify({
          query: print(CreateCredentialMutation),
          variables: {
            input: {
              name: "canary unknown field",
              environmentId: env.development,
              basic: {
                username: "u",
                password: canaries.basicPassword,
                pasword: canaries.rotatedPassword,
              },
            },
          },
        }),
      ),
    );
    await record(false, raw(`{"query": "{ viewer { scopes } }", "x": "${canaries.bearerToken}`));

    await record(
      false,
      app.execute(DeleteCredentialMutation, { input: { id: cc.id } }, { key: writer }),
    );

    expect(responses.length).toBeGreaterThan(60);
    for (const { useScope, body } of responses) {
      const visible = useScope ? withoutPermittedSecrets(body) : body;
      expect(findCanaries(JSON.stringify(visible))).toEqual([]);
    }
    // The use-scoped caller did get the values: the sweep would notice if redaction hid them all.
    const seenByUser = responses
      .filter((r) => r.useScope)
      .map((r) => JSON.stringify(r.body))
      .join("\n");
    expect(findCanaries(seenByUser).length).toBeGreaterThanOrEqual(7);

    expect(app.logs.length).toBeGreaterThan(0);
    expect(findCanaries(app.logs.join("\n"))).toEqual([]);

    const prisma = app.database.prisma;
    const rows = {
      audit: await prisma.auditEvent.findMany(),
      credentials: await prisma.credential.findMany(),
      secrets: await prisma.credentialSecret.findMany(),
      keys: await prisma.apiKey.findMany(),
    };
    expect(rows.audit.length).toBeGreaterThan(10);
    expect(findCanaries(JSON.stringify(rows))).toEqual([]);
  });

  it("leaves no canary in the database files (embedded) or a full dump (PostgreSQL)", async () => {
    if (databaseUrl) {
      const dump = execFileSync("pg_dump", ["--data-only", databaseUrl], {
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(dump.includes(Buffer.from("eyJ"))).toBe(true);
      expect(allCanaries.filter((value) => dump.includes(Buffer.from(value)))).toEqual([]);
      return;
    }
    await app.close();
    closed = true;
    const files = await filesUnder(path.join(dataDir, "pglite"));
    expect(files.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const file of files) {
      const content = await readFile(file);
      for (const value of allCanaries) {
        if (content.includes(Buffer.from(value))) found.push(`${path.basename(file)}: ${value}`);
      }
    }
    expect(found).toEqual([]);
    // Something was written there: the ciphertexts are on disk.
    const all = Buffer.concat(await Promise.all(files.map((file) => readFile(file))));
    expect(all.includes(Buffer.from('"alg":"dir"'))).toBe(false);
    expect(all.includes(Buffer.from("eyJ"))).toBe(true);
  });
});
