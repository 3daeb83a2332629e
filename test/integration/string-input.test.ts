// Finding: NUL or a lone surrogate gave INTERNAL_SERVER_ERROR; CR/LF was accepted in bearer
// tokens and usernames and handed back as header values; ':' was accepted in Basic usernames.
// Every such input now gets a typed field error and stores nothing, and a stored value that
// predates the rules is refused when headers are handed out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptSecretRows } from "../../src/modules/credentials/secret-rows.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { environmentIds } from "../helpers/credentials.js";

type Result = { data?: Record<string, Record<string, unknown>>; errors?: unknown[] };

const createMutation = `mutation($input: CreateCredentialInput!) {
  createCredential(input: $input) {
    __typename
    ... on ValidationError { message fieldErrors { path message } }
    ... on CreateCredentialSuccess { credential { ... on CredentialBase { id } } }
  }
}`;

describe("string inputs: control characters, lone surrogates, header rules", () => {
  let app: TestApp;
  let development: string;
  const gql = async (query: string, variables?: Record<string, unknown>, key = app.adminKey) => {
    const response = await app.request("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as Result;
  };
  const counts = async () => ({
    credentials: await app.database.prisma.credential.count(),
    secrets: await app.database.prisma.credentialSecret.count(),
    keys: await app.database.prisma.apiKey.count(),
  });
  const create = (input: Record<string, unknown>) =>
    gql(createMutation, { input: { environmentId: development, ...input } });

  beforeAll(async () => {
    app = await startTestApp();
    development = (await environmentIds(app)).development as string;
  });
  afterAll(() => app.close());

  const refused: { name: string; input: Record<string, unknown>; path: string[] }[] = [
    {
      name: "NUL in a name",
      input: { name: "a\u0000b", basic: { username: "u" } },
      path: ["input", "name"],
    },
    {
      name: "lone surrogate in a name",
      input: { name: "a\uD800b", basic: { username: "u" } },
      path: ["input", "name"],
    },
    {
      name: "NUL in a username",
      input: { name: "n1", basic: { username: "u\u0000" } },
      path: ["input", "basic", "username"],
    },
    {
      name: "CR/LF in a username",
      input: { name: "n2", basic: { username: "u\r\nX: y" } },
      path: ["input", "basic", "username"],
    },
    {
      name: "':' in a Basic username",
      input: { name: "n3", basic: { username: "user:name", password: "p" } },
      path: ["input", "basic", "username"],
    },
    {
      name: "NUL in a password",
      input: { name: "n4", basic: { username: "u", password: "p\u0000w" } },
      path: ["input", "basic", "password"],
    },
    {
      name: "lone surrogate in a password",
      input: { name: "n5", basic: { username: "u", password: "p\uDC00" } },
      path: ["input", "basic", "password"],
    },
    {
      name: "CR/LF in a bearer token",
      input: { name: "n6", bearer: { token: "abc\r\nX-Injected: 1" } },
      path: ["input", "bearer", "token"],
    },
    {
      name: "LF in a bearer scheme",
      input: { name: "n7", bearer: { token: "abc", scheme: "Bearer\n" } },
      path: ["input", "bearer", "scheme"],
    },
    {
      name: "CR in a header name",
      input: { name: "n8", bearer: { token: "abc", headerName: "X-Key\r" } },
      path: ["input", "bearer", "headerName"],
    },
    {
      name: "a tab in a token's edge",
      input: { name: "n9", bearer: { token: "abc\t" } },
      path: ["input", "bearer", "token"],
    },
    {
      name: "NUL in a description",
      input: { name: "n10", description: "a\u0000", basic: { username: "u" } },
      path: ["input", "description"],
    },
    {
      name: "LF in an imported OAuth token",
      input: {
        name: "n11",
        oauth2: {
          clientId: "c",
          authorizationUrl: "http://127.0.0.1:9/a",
          tokenUrl: "http://127.0.0.1:9/t",
          accessToken: "at\nX: 1",
        },
      },
      path: ["input", "oauth2", "accessToken"],
    },
    {
      name: "NUL in a JSON scalar value",
      input: {
        name: "n12",
        oauth2: {
          clientId: "c",
          authorizationUrl: "http://127.0.0.1:9/a",
          tokenUrl: "http://127.0.0.1:9/t",
          extraAuthorizationParams: { prompt: "x\u0000" },
        },
      },
      path: ["input", "oauth2", "extraAuthorizationParams", "prompt"],
    },
  ];

  for (const { name, input, path } of refused) {
    it(`refuses ${name} with a field error and stores nothing`, async () => {
      const before = await counts();
      const result = await create(input);
      expect(result.errors).toBeUndefined();
      const payload = result.data?.createCredential as {
        __typename: string;
        fieldErrors: { path: string[]; message: string }[];
      };
      expect(payload.__typename).toBe("ValidationError");
      expect(payload.fieldErrors.map((error) => error.path)).toContainEqual(path);
      expect(await counts()).toEqual(before);
    });
  }

  it("allows line breaks where a field allows them (a description)", async () => {
    const result = await create({
      name: "multi-line description",
      description: "first line\nsecond line\tindented",
      basic: { username: "user", password: "pass" },
    });
    expect(result.data?.createCredential?.__typename).toBe("CreateCredentialSuccess");
  });

  it("applies the same rules to other modules and to queries", async () => {
    const before = await counts();
    const key = await gql(
      `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
        __typename ... on ValidationError { fieldErrors { path } } } }`,
      { input: { name: "key\u0000", scopes: ["credentials:read"] } },
    );
    expect(key.data?.createApiKey).toEqual({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "name"] }],
    });
    const search = await gql(
      `query($search: String) { credentials(first: 5, filter: { search: $search }) { edges { cursor } } }`,
      { search: "x\u0000" },
    );
    expect(search.errors).toMatchObject([{ extensions: { code: "BAD_USER_INPUT" } }]);
    expect(await counts()).toEqual(before);
  });

  it("refuses a rotated bearer token with CR/LF", async () => {
    const created = await create({ name: "to rotate", bearer: { token: "good-token" } });
    const id = (created.data?.createCredential?.credential as { id: string } | undefined)
      ?.id as string;
    const result = await gql(
      `mutation($input: RotateCredentialInput!) { rotateCredential(input: $input) {
        __typename ... on ValidationError { fieldErrors { path } } } }`,
      { input: { id, secret: { token: "new\r\nX-Injected: 1" } } },
    );
    expect(result.data?.rotateCredential).toEqual({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "secret", "token"] }],
    });
  });

  it("refuses to hand out a stored header value that predates the rules", async () => {
    const acquire = async (credentialId: string) =>
      gql(
        `mutation($input: AcquireCredentialHeadersInput!) { acquireCredentialHeaders(input: $input) {
          __typename
          ... on AcquireCredentialHeadersSuccess { headers { name value } }
          ... on CredentialNotUsableError { message reason { code message } }
        } }`,
        { input: { credentialId } },
      );
    const bearer = await create({ name: "stored bearer", bearer: { token: "fine-token" } });
    const bearerId = (bearer.data?.createCredential?.credential as { id: string } | undefined)
      ?.id as string;
    expect((await acquire(bearerId)).data?.acquireCredentialHeaders?.__typename).toBe(
      "AcquireCredentialHeadersSuccess",
    );
    // Write a token with CR/LF straight into storage, as an older version could have.
    const row = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "stored bearer" },
    });
    const [secret] = await encryptSecretRows(
      app.keyport.services.keyRing,
      { workspaceId: row.workspaceId, credentialId: row.id },
      { token: "evil\r\nX-Injected: CANARYSTORED" },
    );
    await app.database.prisma.credentialSecret.update({
      where: { credentialId_field: { credentialId: row.id, field: "token" } },
      data: { ciphertext: secret?.ciphertext, keyId: secret?.keyId },
    });
    const refusedBearer = await acquire(bearerId);
    expect(refusedBearer.data?.acquireCredentialHeaders).toMatchObject({
      __typename: "CredentialNotUsableError",
      reason: { code: "INVALID_CREDENTIALS" },
    });
    expect(JSON.stringify(refusedBearer)).not.toContain("CANARYSTORED");

    const basic = await create({
      name: "stored basic",
      basic: { username: "user", password: "pw" },
    });
    const basicId = (basic.data?.createCredential?.credential as { id: string } | undefined)
      ?.id as string;
    const basicRow = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "stored basic" },
    });
    await app.database.prisma.credential.update({
      where: { id: basicRow.id },
      data: { settings: { ...(basicRow.settings as object), username: "us:er" } },
    });
    expect((await acquire(basicId)).data?.acquireCredentialHeaders).toMatchObject({
      __typename: "CredentialNotUsableError",
      reason: { code: "INVALID_CREDENTIALS" },
    });
  });
});
