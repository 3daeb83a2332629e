import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CredentialQuery,
  CredentialsQuery,
  DeleteCredentialMutation,
  NodeQueryCredential,
  RotateCredentialMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";

describe("credentials", () => {
  let app: TestApp;
  let reader: string;
  let user: string;
  let writer: string;
  // Created by a writer without credentials:use, so responses show no secret values.
  const create = (input: Parameters<typeof createCredential>[1]) =>
    createCredential(app, input, writer);
  beforeAll(async () => {
    app = await startTestApp();
    writer = await createKey(app, ["credentials:read", "credentials:write"]);
    reader = await createKey(app, ["credentials:read"]);
    user = await createKey(app, ["credentials:read", "credentials:use"]);
  });
  afterAll(() => app.close());

  const acquire = async (credentialId: string, key = user, minValiditySeconds?: number) =>
    dataOf(
      await app.execute(
        AcquireHeadersMutation,
        {
          input: {
            credentialId,
            ...(minValiditySeconds !== undefined ? { minValiditySeconds } : {}),
          },
        },
        { key },
      ),
    ).acquireCredentialHeaders;

  it("stores a basic login with host, port and database, showing only a preview of the password", async () => {
    const created = await create({
      name: "warehouse db",
      description: "reporting replica",
      providerKey: "postgres",
      externalUserId: "user-1",
      basic: {
        username: "report",
        password: "pa55word-with-length",
        host: "db.internal",
        port: 5432,
        database: "dw",
      },
    });
    expect(created).toMatchObject({
      __typename: "BasicCredential",
      kind: "BASIC",
      status: "ACTIVE",
      username: "report",
      host: "db.internal",
      port: 5432,
      database: "dw",
      providerKey: "postgres",
      externalUserId: "user-1",
      environment: { slug: "development" },
      password: { isSet: true, preview: "••••ngth", value: null },
    });
    if (created.__typename !== "BasicCredential") throw new Error("wrong type");
    expect(created.password.fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{16}$/);

    // A reader sees the same redacted secret; a caller with credentials:use sees the value.
    const asReader = dataOf(
      await app.execute(CredentialQuery, { id: created.id }, { key: reader }),
    ).credential;
    expect(asReader).toMatchObject({ password: { isSet: true, value: null } });
    const asUser = dataOf(
      await app.execute(CredentialQuery, { id: created.id }, { key: user }),
    ).credential;
    expect(asUser).toMatchObject({ password: { value: "pa55word-with-length" } });
    const audit = await app.database.prisma.auditEvent.findMany({
      where: { action: "secret.read" },
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.metadata).toEqual({ field: "password" });
    expect(JSON.stringify(audit)).not.toContain("pa55word");

    const material = await acquire(created.id);
    expect(material).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      headers: [
        {
          name: "Authorization",
          value: `Basic ${Buffer.from("report:pa55word-with-length").toString("base64")}`,
        },
      ],
      queryParameters: [],
    });
  });

  it("places bearer tokens in a header (with or without a scheme), a query parameter or the path", async () => {
    const token = "tok_0123456789abcdef";
    const header = await create({ name: "bearer header", bearer: { token } });
    expect(header).toMatchObject({
      placement: "HEADER",
      headerName: "Authorization",
      scheme: "Bearer",
    });
    expect(await acquire(header.id)).toMatchObject({
      headers: [{ name: "Authorization", value: `Bearer ${token}` }],
    });

    const custom = await create({
      name: "api key header",
      bearer: { token, headerName: "X-Api-Key", scheme: "" },
    });
    expect(custom).toMatchObject({ scheme: null, headerName: "X-Api-Key" });
    expect(await acquire(custom.id)).toMatchObject({
      headers: [{ name: "X-Api-Key", value: token }],
    });

    const query = await create({
      name: "query key",
      bearer: { token, placement: "QUERY", queryParameter: "api_key" },
    });
    expect(await acquire(query.id)).toMatchObject({
      headers: [],
      queryParameters: [{ name: "api_key", value: token }],
    });

    const path = await create({ name: "telegram bot", bearer: { token, placement: "PATH" } });
    expect(await acquire(path.id)).toMatchObject({
      headers: [],
      pathParameters: [{ name: "token", value: token }],
    });
  });

  it("refuses auth material for a token that expires within minValiditySeconds", async () => {
    const soon = new Date(Date.now() + 30_000).toISOString();
    const expiring = await create({
      name: "expiring",
      bearer: { token: "short-lived-token-value", expiresAt: soon },
    });
    expect(await acquire(expiring.id, user, 0)).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      expiresAt: soon,
    });
    expect(await acquire(expiring.id, user, 60)).toMatchObject({
      __typename: "CredentialNotUsableError",
    });
  });

  it("creates OAuth2 credentials pending authorization, and refuses to hand them out", async () => {
    const oauth = await create({
      name: "github",
      providerKey: "github",
      oauth2: {
        clientId: "client-1",
        clientSecret: "oauth-client-secret-value",
        authorizationUrl: "https://github.example/login/oauth/authorize",
        tokenUrl: "https://github.example/login/oauth/access_token",
        scopes: ["repo", "read:user"],
        extraAuthorizationParams: { prompt: "consent" },
        tokenEndpointAuthMethod: "CLIENT_SECRET_POST",
        audience: "api",
      },
    });
    expect(oauth).toMatchObject({
      __typename: "OAuth2Credential",
      status: "PENDING_AUTHORIZATION",
      scopes: ["repo", "read:user"],
      grantedScopes: [],
      usePkce: true,
      tokenEndpointAuthMethod: "CLIENT_SECRET_POST",
      extraAuthorizationParams: { prompt: "consent" },
      accessToken: null,
      refreshToken: null,
      clientSecret: { isSet: true, value: null },
    });
    expect(await acquire(oauth.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "PENDING_AUTHORIZATION",
    });
  });

  it("creates client-credentials connections with scopes, audience and auth method", async () => {
    const cc = await create({
      name: "billing api",
      verify: false,
      clientCredentials: {
        clientId: "svc",
        clientSecret: "cc-secret-value-123456",
        tokenUrl: "https://auth.example/oauth/token",
        scopes: ["billing.read"],
        audience: "https://billing.example",
      },
    });
    expect(cc).toMatchObject({
      __typename: "ClientCredentialsCredential",
      status: "ACTIVE",
      clientTokenUrl: "https://auth.example/oauth/token",
      scopes: ["billing.read"],
      audience: "https://billing.example",
      tokenEndpointAuthMethod: "CLIENT_SECRET_BASIC",
      clientSecret: { isSet: true, value: null },
      accessToken: null,
    });
  });

  it("refuses INVALID credentials with their status and reason", async () => {
    const broken = await create({ name: "broken", bearer: { token: "revoked-token-value" } });
    await app.database.prisma.credential.update({
      where: {
        id: (await app.database.prisma.credential.findFirstOrThrow({ where: { name: "broken" } }))
          .id,
      },
      data: {
        status: "INVALID",
        statusReasonCode: "INVALID_CREDENTIALS",
        statusReasonMessage: "rejected by provider",
      },
    });
    expect(await acquire(broken.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "INVALID",
      reason: { code: "INVALID_CREDENTIALS", message: "rejected by provider" },
    });
  });

  it("requires credentials:use to acquire headers", async () => {
    const credential = await create({ name: "scoped", bearer: { token: "scoped-token-value" } });
    const result = await app.execute(
      AcquireHeadersMutation,
      { input: { credentialId: credential.id } },
      { key: reader },
    );
    expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
  });

  it("records lastUsedAt at most once a minute", async () => {
    const credential = await create({ name: "used", bearer: { token: "used-token-value" } });
    await Promise.all(Array.from({ length: 10 }, () => acquire(credential.id)));
    await expect
      .poll(
        async () =>
          (await app.database.prisma.credential.findFirstOrThrow({ where: { name: "used" } }))
            .lastUsedAt,
      )
      .toBeInstanceOf(Date);
    const first = (
      await app.database.prisma.credential.findFirstOrThrow({ where: { name: "used" } })
    ).lastUsedAt;
    await acquire(credential.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = (
      await app.database.prisma.credential.findFirstOrThrow({ where: { name: "used" } })
    ).lastUsedAt;
    expect(second).toEqual(first);
    const uses = await app.database.prisma.auditEvent.count({
      where: { action: "credential.use" },
    });
    const row = await app.database.prisma.credential.findFirstOrThrow({ where: { name: "used" } });
    expect(
      await app.database.prisma.auditEvent.count({
        where: { action: "credential.use", objectId: row.id },
      }),
    ).toBe(1);
    expect(uses).toBeGreaterThanOrEqual(1);
  });

  it("lists with filters and stable Relay pagination", async () => {
    const env = await environmentIds(app);
    await create({
      name: "acme github 1",
      externalUserId: "acme-user",
      providerKey: "acme-github",
      bearer: { token: "gh-token-1-value" },
    });
    await create({
      name: "acme github 2",
      externalUserId: "acme-user",
      providerKey: "acme-github",
      bearer: { token: "gh-token-2-value" },
    });
    await create({
      name: "acme prod",
      description: "Production SLACK bot",
      externalUserId: "acme-user",
      environmentId: env.production,
      bearer: { token: "slack-token-value" },
    });
    const names = async (filter: Record<string, unknown>) =>
      dataOf(await app.execute(CredentialsQuery, { first: 100, filter })).credentials.edges.map(
        (e) => e.node.name,
      );

    expect(await names({ externalUserId: "acme-user" })).toEqual([
      "acme github 1",
      "acme github 2",
      "acme prod",
    ]);
    expect(await names({ externalUserId: "acme-user", providerKey: "acme-github" })).toEqual([
      "acme github 1",
      "acme github 2",
    ]);
    expect(await names({ environmentId: env.production })).toEqual(["acme prod"]);
    expect(await names({ search: "slack" })).toEqual(["acme prod"]);
    expect(await names({ kind: "OAUTH2" })).toEqual(["github"]);
    expect(await names({ status: "PENDING_AUTHORIZATION" })).toEqual(["github"]);
    expect(await names({ environmentId: "not-an-id" })).toEqual([]);

    const all = await names({});
    const walked: string[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = dataOf(await app.execute(CredentialsQuery, { first: 3, after })).credentials;
      walked.push(...page.edges.map((e) => e.node.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(walked).toEqual(all);
    expect(new Set(walked).size).toBe(walked.length);
  });

  it("updates non-secret settings; the kind never changes; nothing is half-saved", async () => {
    const credential = await create({
      name: "to update",
      bearer: { token: "update-token-value", placement: "QUERY", queryParameter: "key" },
    });
    const updated = dataOf(
      await app.execute(UpdateCredentialMutation, {
        input: {
          id: credential.id,
          name: "updated",
          description: "now in a header",
          bearer: { placement: "HEADER", headerName: "X-Key", scheme: "" },
        },
      }),
    ).updateCredential;
    expect(updated).toMatchObject({
      __typename: "UpdateCredentialSuccess",
      credential: {
        name: "updated",
        description: "now in a header",
        placement: "HEADER",
        headerName: "X-Key",
        scheme: null,
        token: { isSet: true },
      },
    });

    const wrongKind = dataOf(
      await app.execute(UpdateCredentialMutation, {
        input: { id: credential.id, name: "should not stick", basic: { username: "x" } },
      }),
    ).updateCredential;
    expect(wrongKind).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "basic"] }],
    });
    const badQuery = dataOf(
      await app.execute(UpdateCredentialMutation, {
        input: {
          id: credential.id,
          name: "should not stick",
          bearer: { placement: "QUERY", queryParameter: null },
        },
      }),
    ).updateCredential;
    expect(badQuery).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "bearer", "queryParameter"] }],
    });
    const after = dataOf(await app.execute(CredentialQuery, { id: credential.id })).credential;
    expect(after).toMatchObject({ name: "updated", placement: "HEADER" });
    const updates = await app.database.prisma.auditEvent.findMany({
      where: { action: "credential.update" },
    });
    expect(JSON.stringify(updates)).not.toContain("update-token-value");
  });

  it("keeps names unique per environment", async () => {
    const env = await environmentIds(app);
    await create({ name: "shared name", bearer: { token: "t-value-1" } });
    await create({
      name: "shared name",
      environmentId: env.production,
      bearer: { token: "t-value-2" },
    });
    const duplicate = dataOf(
      await app.execute(
        (await import("../helpers/credential-documents.js")).CreateCredentialMutation,
        {
          input: {
            name: "shared name",
            environmentId: env.development,
            bearer: { token: "t-value-3" },
          },
        },
      ),
    ).createCredential;
    expect(duplicate).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "name"] }],
    });
  });

  it("rotates a secret, keeping the previous value for the overlap only", async () => {
    const credential = await create({
      name: "rotating",
      basic: { username: "u", password: "old-password-value" },
    });
    if (credential.__typename !== "BasicCredential") throw new Error("wrong type");
    const rotated = dataOf(
      await app.execute(RotateCredentialMutation, {
        input: {
          id: credential.id,
          secret: { password: "new-password-value" },
          overlapSeconds: 600,
        },
      }),
    ).rotateCredential;
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    if (
      rotated.__typename !== "RotateCredentialSuccess" ||
      rotated.credential.__typename !== "BasicCredential"
    )
      return;
    expect(rotated.credential.password.fingerprint).not.toBe(credential.password.fingerprint);
    expect(await acquire(credential.id)).toMatchObject({
      headers: [{ value: `Basic ${Buffer.from("u:new-password-value").toString("base64")}` }],
    });
    const rows = await app.database.prisma.credentialSecret.findMany({
      where: { credential: { name: "rotating" } },
    });
    expect(rows.map((r) => r.field).sort()).toEqual(["password", "password@previous"]);
    expect(rows.find((r) => r.field === "password@previous")?.retainUntil).toBeInstanceOf(Date);

    const wrongField = dataOf(
      await app.execute(RotateCredentialMutation, {
        input: { id: credential.id, secret: { token: "x-token-value" } },
      }),
    ).rotateCredential;
    expect(wrongField).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "secret"] }],
    });
  });

  it("deletes a credential together with its secrets", async () => {
    const credential = await create({ name: "to delete", bearer: { token: "delete-token-value" } });
    const deleted = dataOf(
      await app.execute(DeleteCredentialMutation, { input: { id: credential.id } }),
    ).deleteCredential;
    expect(deleted).toEqual({
      __typename: "DeleteCredentialSuccess",
      deletedCredentialId: credential.id,
    });
    expect(dataOf(await app.execute(CredentialQuery, { id: credential.id })).credential).toBeNull();
    expect(dataOf(await app.execute(NodeQueryCredential, { id: credential.id })).node).toBeNull();
    expect(
      await app.database.prisma.credentialSecret.count({
        where: { credential: { name: "to delete" } },
      }),
    ).toBe(0);
    const again = dataOf(
      await app.execute(DeleteCredentialMutation, { input: { id: credential.id } }),
    ).deleteCredential;
    expect(again.__typename).toBe("NotFoundError");
  });

  it("resolves credentials through node(id)", async () => {
    const credential = await create({ name: "as node", bearer: { token: "node-token-value" } });
    expect(
      dataOf(await app.execute(NodeQueryCredential, { id: credential.id })).node,
    ).toMatchObject({
      __typename: "BearerCredential",
      id: credential.id,
      name: "as node",
    });
  });
});
