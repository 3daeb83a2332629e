// The benchmark scenarios. A scenario prepares whatever it needs through keyport's GraphQL API
// (as the admin) and returns the one request to repeat under load. To add one, append it to
// `scenarios`; BENCH_SCENARIOS selects them by name.
import type { LoadRequest } from "./types.js";

export type Api = {
  /** e.g. http://127.0.0.1:4123 */
  origin: string;
  /** The admin API key keyport created on its first start. */
  adminKey: string;
  /** Runs a GraphQL operation as the admin; throws on HTTP or GraphQL errors. */
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<T>;
};

export type Scenario = {
  name: string;
  description: string;
  setup(api: Api): Promise<LoadRequest>;
};

/** A POST /graphql as the admin, the way connector services call keyport. */
export function graphqlLoad(
  api: Pick<Api, "adminKey">,
  query: string,
  variables: Record<string, unknown> | undefined,
  expect: LoadRequest["expect"],
): LoadRequest {
  return {
    method: "POST",
    path: "/graphql",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      authorization: `Bearer ${api.adminKey}`,
    },
    body: JSON.stringify(variables ? { query, variables } : { query }),
    expect,
  };
}

/** The baseline server's request (bench/hello-server.ts), shaped like the keyport ones. */
export const baselineRequest: LoadRequest = {
  method: "POST",
  path: "/graphql",
  headers: {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
  },
  body: JSON.stringify({ query: "{ hello }" }),
  expect: { path: ["data", "hello"], equals: "Hello world!" },
};

const viewer: Scenario = {
  name: "viewer",
  description: "{ viewer { scopes } }: API key check and one lookup, no credentials",
  async setup(api) {
    const query = "{ viewer { scopes } }";
    await api.graphql(query);
    return graphqlLoad(api, query, undefined, { path: ["data", "viewer", "scopes"] });
  },
};

const benchToken = "bench-token-0123456789abcdef";

const acquireStatic: Scenario = {
  name: "acquire-static",
  description: "acquireCredentialHeaders for a static bearer token (decrypt, no provider call)",
  async setup(api) {
    const { viewer } = await api.graphql<{
      viewer: { workspace: { environments: { id: string; slug: string }[] } };
    }>("{ viewer { workspace { environments { id slug } } } }");
    const environment = viewer.workspace.environments.find((e) => e.slug === "development");
    if (!environment) throw new Error("the default workspace has no development environment");

    const { createCredential } = await api.graphql<{
      createCredential: {
        __typename: string;
        credential?: { id?: string };
        message?: string;
      };
    }>(
      `mutation ($envId: ID!) {
        createCredential(
          input: { name: "bench", environmentId: $envId, bearer: { token: "${benchToken}" } }
        ) {
          __typename
          ... on CreateCredentialSuccess { credential { ... on BearerCredential { id } } }
          ... on Error { message }
        }
      }`,
      { envId: environment.id },
    );
    const credentialId = createCredential.credential?.id;
    if (createCredential.__typename !== "CreateCredentialSuccess" || !credentialId) {
      throw new Error(
        `createCredential answered ${createCredential.__typename}: ${createCredential.message ?? ""}`,
      );
    }

    const query = `mutation ($id: ID!) {
      acquireCredentialHeaders(input: { credentialId: $id }) {
        __typename
        ... on AcquireCredentialHeadersSuccess { headers { name value } }
      }
    }`;
    // One call before the load, so a broken scenario fails here with a readable message.
    const { acquireCredentialHeaders: first } = await api.graphql<{
      acquireCredentialHeaders: { __typename: string; headers?: { name: string; value: string }[] };
    }>(query, { id: credentialId });
    if (first.__typename !== "AcquireCredentialHeadersSuccess") {
      throw new Error(`acquireCredentialHeaders answered ${first.__typename}`);
    }
    if (!first.headers?.some((h) => h.value.includes(benchToken))) {
      throw new Error(`acquireCredentialHeaders returned no header with the token`);
    }
    return graphqlLoad(
      api,
      query,
      { id: credentialId },
      {
        path: ["data", "acquireCredentialHeaders", "__typename"],
        equals: "AcquireCredentialHeadersSuccess",
      },
    );
  },
};

export const scenarios: Scenario[] = [viewer, acquireStatic];

/** Default selection (BENCH_SCENARIOS unset). */
export const defaultScenarioNames = scenarios.map((s) => s.name);
