// Every rejected credential input is a typed error naming its fields, and nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CreateCredentialMutation,
  RotateCredentialMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, environmentIds } from "../helpers/credentials.js";

describe("credential bad input", () => {
  let app: TestApp;
  let production: TestApp;
  let development: string;
  beforeAll(async () => {
    [app, production] = await Promise.all([
      startTestApp(),
      startTestApp({ env: { NODE_ENV: "production" } }),
    ]);
    development = (await environmentIds(app)).development ?? "";
  });
  afterAll(async () => {
    await Promise.all([app.close(), production.close()]);
  });

  const stored = async (target = app) => ({
    credentials: await target.database.prisma.credential.count(),
    secrets: await target.database.prisma.credentialSecret.count(),
  });

  async function rejected(input: Record<string, unknown>, target = app) {
    const before = await stored(target);
    const environmentId = target === app ? development : (await environmentIds(target)).development;
    const result = dataOf(
      await target.execute(CreateCredentialMutation, {
        input: { environmentId, ...input } as never,
      }),
    ).createCredential;
    expect(await stored(target)).toEqual(before);
    if (result.__typename !== "ValidationError")
      throw new Error(`expected a ValidationError, got ${JSON.stringify(result)}`);
    return result.fieldErrors.map((error) => error.path.join("."));
  }

  it("requires exactly one kind", async () => {
    expect(await rejected({ name: "none" })).toEqual(["input"]);
    expect(
      await rejected({ name: "two", bearer: { token: "t-value" }, basic: { username: "u" } }),
    ).toEqual(["input"]);
  });

  it("rejects empty, blank and oversized names", async () => {
    expect(await rejected({ name: "", bearer: { token: "t-value" } })).toEqual(["input.name"]);
    expect(await rejected({ name: "   ", bearer: { token: "t-value" } })).toEqual(["input.name"]);
    expect(await rejected({ name: "n".repeat(201), bearer: { token: "t-value" } })).toEqual([
      "input.name",
    ]);
    expect(await rejected({ name: "n".repeat(10_240), bearer: { token: "t-value" } })).toEqual([
      "input.name",
    ]);
  });

  it("rejects invalid URLs on their fields", async () => {
    const oauth = (overrides: Record<string, unknown>) => ({
      name: "bad url",
      oauth2: {
        clientId: "c",
        authorizationUrl: "https://a.example/a",
        tokenUrl: "https://a.example/t",
        ...overrides,
      },
    });
    expect(await rejected(oauth({ tokenUrl: "not a url" }))).toEqual(["input.oauth2.tokenUrl"]);
    expect(await rejected(oauth({ authorizationUrl: "/relative/path" }))).toEqual([
      "input.oauth2.authorizationUrl",
    ]);
    expect(await rejected(oauth({ revocationUrl: "ftp://a.example/r" }))).toEqual([
      "input.oauth2.revocationUrl",
    ]);
    expect(await rejected(oauth({ tokenUrl: "https://user:pw@a.example/t" }))).toEqual([
      "input.oauth2.tokenUrl",
    ]);
    expect(await rejected(oauth({ authorizationUrl: null, issuer: null }))).toEqual([
      "input.oauth2.authorizationUrl",
    ]);
    expect(
      await rejected({
        name: "cc",
        verify: false,
        clientCredentials: {
          clientId: "c",
          clientSecret: "s-value",
          tokenUrl: "javascript:alert(1)",
        },
      }),
    ).toEqual(["input.clientCredentials.tokenUrl"]);
  });

  it("requires https in production, loopback and look-alike hosts included", async () => {
    const tokenUrl = (url: string, name: string) => ({
      name,
      verify: false,
      clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: url },
    });
    for (const url of [
      "http://auth.example/t",
      "http://127.0.0.1:8080/t",
      "http://localhost:8080/t",
      "http://127.attacker.example/t",
      // https, but loopback: production admits none unless OUTBOUND_ALLOW names it.
      "https://127.0.0.1:8443/t",
      "https://[::1]:8443/t",
    ]) {
      expect(await rejected(tokenUrl(url, "plain http"), production), url).toEqual([
        "input.clientCredentials.tokenUrl",
      ]);
    }
    await createCredential(production, tokenUrl("https://auth.example/t", "https"));
  });

  it("rejects bad kind settings and names every field at once", async () => {
    expect(
      (
        await rejected({ name: "", basic: { username: "", port: 70_000, host: "bad host!" } })
      ).sort(),
    ).toEqual(["input.basic.host", "input.basic.port", "input.basic.username", "input.name"]);
    expect(await rejected({ name: "q", bearer: { token: "t-value", placement: "QUERY" } })).toEqual(
      ["input.bearer.queryParameter"],
    );
    expect(
      await rejected({ name: "h", bearer: { token: "t-value", headerName: "Bad Header" } }),
    ).toEqual(["input.bearer.headerName"]);
    expect(await rejected({ name: "e", bearer: { token: "" } })).toEqual(["input.bearer.token"]);
    expect(await rejected({ name: "big", bearer: { token: "x".repeat(20_000) } })).toEqual([
      "input.bearer.token",
    ]);
    expect(
      await rejected({
        name: "p",
        oauth2: {
          clientId: "c",
          issuer: "https://i.example",
          extraAuthorizationParams: { state: "mine" },
        },
      }),
    ).toEqual(["input.oauth2.extraAuthorizationParams"]);
    expect(
      await rejected({
        name: "s",
        oauth2: { clientId: "c", issuer: "https://i.example", scopes: ["two words"] },
      }),
    ).toEqual(["input.oauth2.scopes.0"]);
    expect(
      await rejected({ name: "env", environmentId: "garbage", bearer: { token: "t-value" } }),
    ).toEqual(["input.environmentId"]);
  });

  it("rejects unknown enum values and wrong types before anything runs", async () => {
    const before = await stored();
    const response = await app.request("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
      body: JSON.stringify({
        query:
          "mutation($input: CreateCredentialInput!) { createCredential(input: $input) { __typename } }",
        variables: {
          input: {
            name: "enum",
            environmentId: development,
            bearer: { token: "t", placement: "SIDEWAYS" },
          },
        },
      }),
    });
    const body = (await response.json()) as { data?: unknown; errors: { message: string }[] };
    expect(body.data).toBeUndefined();
    // The message names the field and the enum, not the value sent.
    expect(body.errors[0]?.message).toMatch(/input\.bearer\.placement.*TokenPlacement/);
    expect(body.errors[0]?.message).not.toMatch(/SIDEWAYS/);
    expect(await stored()).toEqual(before);
  });

  it("rejects malformed ids in credential mutations on the id field", async () => {
    for (const id of ["garbage", Buffer.from("Environment:1").toString("base64")]) {
      const update = dataOf(
        await app.execute(UpdateCredentialMutation, { input: { id, name: "x" } }),
      ).updateCredential;
      expect(update).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "id"] }],
      });
      const rotate = dataOf(
        await app.execute(RotateCredentialMutation, {
          input: { id, secret: { token: "x-value" } },
        }),
      ).rotateCredential;
      expect(rotate).toMatchObject({ __typename: "ValidationError" });
      const acquire = dataOf(
        await app.execute(AcquireHeadersMutation, { input: { credentialId: id } }),
      ).acquireCredentialHeaders;
      expect(acquire).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "credentialId"] }],
      });
    }
  });

  it("rejects out-of-range minValiditySeconds and overlapSeconds", async () => {
    const credential = await createCredential(app, {
      name: "ranges",
      bearer: { token: "range-token-value" },
    });
    const acquire = dataOf(
      await app.execute(AcquireHeadersMutation, {
        input: { credentialId: credential.id, minValiditySeconds: -5 },
      }),
    ).acquireCredentialHeaders;
    expect(acquire).toMatchObject({ fieldErrors: [{ path: ["input", "minValiditySeconds"] }] });
    const rotate = dataOf(
      await app.execute(RotateCredentialMutation, {
        input: {
          id: credential.id,
          secret: { token: "new-token-value" },
          overlapSeconds: 10_000_000,
        },
      }),
    ).rotateCredential;
    expect(rotate).toMatchObject({ fieldErrors: [{ path: ["input", "overlapSeconds"] }] });
  });
});
