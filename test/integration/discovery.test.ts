// An OAuth2 credential configured with only an issuer: its metadata is read when it is created
// (verify defaults to true), every failure is reported naming the issuer and what went wrong,
// and the discovered endpoints are stored, shown, and used while the issuer is unreachable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { UpdateCredentialMutation } from "../helpers/credential-documents.js";
import { environmentIds } from "../helpers/credentials.js";
import { closedPortUrl, startTokenStub, type TokenStub } from "../helpers/token-stub.js";

const DiscoveryCreate = graphql(`
  mutation DiscoveryCreate($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ... on OAuth2Credential {
            id
            issuer
            authorizationUrl
            tokenUrl
            revocationUrl
            endpointsDiscoveredAt
          }
        }
      }
      ... on CredentialProviderError {
        code
        message
      }
    }
  }
`);

const DiscoveryAuthorize = graphql(`
  mutation DiscoveryAuthorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
      }
      ... on CredentialProviderError {
        code
        message
      }
    }
  }
`);

describe("discovery with only an issuer", () => {
  let app: TestApp;
  let server: TokenStub;
  let issuer: string;
  let environmentId: string;
  /** What the issuer's well-known URLs answer, by path. */
  let answer: (path: string) => { status: number; body?: unknown } | "hang";

  beforeAll(async () => {
    [app, server] = await Promise.all([
      startTestApp({ env: { TOKEN_REQUEST_TIMEOUT_MS: "400" } }),
      startTokenStub(),
    ]);
    issuer = server.tokenUrl.replace("/token", "/tenant");
    environmentId = (await environmentIds(app)).development as string;
    server.script((request) => answer(request.path));
  });
  afterAll(async () => {
    await Promise.all([app?.close(), server?.close()]);
  });

  const metadata = (overrides: Record<string, unknown> = {}) => ({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    jwks_uri: `${issuer}/jwks`,
    ...overrides,
  });
  const openid = (reply: { status: number; body?: unknown } | "hang") => (path: string) =>
    path === "/tenant/.well-known/openid-configuration" ? reply : { status: 404 };

  let count = 0;
  const create = async (issuerUrl: string, verify?: boolean) =>
    dataOf(
      await app.execute(DiscoveryCreate, {
        input: {
          environmentId,
          name: `discovered ${++count}`,
          ...(verify === undefined ? {} : { verify }),
          oauth2: { clientId: "client", clientSecret: "client-secret", issuer: issuerUrl },
        },
      }),
    ).createCredential;
  const credentialCount = () => app.database.prisma.credential.count();

  it("stores and shows the endpoints the issuer's metadata names", async () => {
    answer = openid({ status: 200, body: metadata() });
    const created = await create(issuer);
    expect(created).toMatchObject({
      __typename: "CreateCredentialSuccess",
      credential: {
        issuer,
        authorizationUrl: `${issuer}/authorize`,
        tokenUrl: `${issuer}/token`,
        revocationUrl: `${issuer}/revoke`,
      },
    });
    if (created.__typename !== "CreateCredentialSuccess") return;
    const credential = created.credential as { id: string; endpointsDiscoveredAt: string };
    expect(Date.now() - new Date(credential.endpointsDiscoveredAt).getTime()).toBeLessThan(60_000);

    // The issuer goes away: what was discovered still serves the next authorization.
    answer = () => ({ status: 503 });
    const started = dataOf(
      await app.execute(DiscoveryAuthorize, { input: { id: credential.id } }),
    ).authorizeCredential;
    expect(started).toMatchObject({ __typename: "AuthorizeCredentialSuccess" });
    if (started.__typename === "AuthorizeCredentialSuccess") {
      expect(started.authorizationUrl.startsWith(`${issuer}/authorize?`)).toBe(true);
    }

    // Writing a shown endpoint back as configured changes nothing, so no secret is needed.
    const update = dataOf(
      await app.execute(UpdateCredentialMutation, {
        input: { id: credential.id, oauth2: { tokenUrl: `${issuer}/token` } },
      }),
    ).updateCredential;
    expect(update.__typename).toBe("UpdateCredentialSuccess");
  });

  it("refuses to store a credential whose issuer cannot be discovered, saying where and why", async () => {
    const before = await credentialCount();
    const cases: [
      string,
      (path: string) => { status: number; body?: unknown } | "hang",
      string,
      RegExp,
    ][] = [
      ["not found", () => ({ status: 404 }), "PROVIDER_UNAVAILABLE", /HTTP 404/],
      [
        "not a metadata document",
        openid({ status: 200, body: { hello: "world" } }),
        "PROVIDER_UNAVAILABLE",
        /not a metadata document/,
      ],
      ["silent", openid("hang"), "PROVIDER_UNAVAILABLE", /no answer within 400 ms/],
      [
        "another issuer",
        openid({ status: 200, body: metadata({ issuer: "https://someone.else.example" }) }),
        "AUTHORIZATION_FAILED",
        /names a different issuer/,
      ],
      [
        "a refused endpoint",
        openid({
          status: 200,
          body: metadata({ authorization_endpoint: "javascript:alert(1)" }),
        }),
        "ENDPOINT_NOT_ALLOWED",
        /authorization_endpoint/,
      ],
    ];
    for (const [name, reply, code, reason] of cases) {
      answer = reply;
      const result = await create(issuer);
      expect(result, name).toMatchObject({ __typename: "CredentialProviderError", code });
      if (result.__typename !== "CredentialProviderError") continue;
      expect(result.message, name).toMatch(reason);
      if (code === "PROVIDER_UNAVAILABLE") expect(result.message, name).toContain(issuer);
    }
    const closed = (await closedPortUrl()).replace("/token", "/gone");
    const refused = await create(closed);
    expect(refused).toMatchObject({ __typename: "CredentialProviderError" });
    if (refused.__typename === "CredentialProviderError") {
      expect(refused.message).toContain(closed);
      expect(refused.message).toMatch(/connection failed/);
    }
    expect(await credentialCount()).toBe(before);
  });

  it("stores without reading the metadata when verify is false", async () => {
    answer = () => ({ status: 404 });
    const created = await create(issuer, false);
    expect(created).toMatchObject({
      __typename: "CreateCredentialSuccess",
      credential: { tokenUrl: null, endpointsDiscoveredAt: null },
    });
  });
});
