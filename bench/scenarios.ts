// The benchmark scenarios. A scenario prepares whatever it needs through keyport's GraphQL API
// (as the admin) and returns the one request to repeat under load. To add one, append it to
// `scenarios`; BENCH_SCENARIOS selects them by name.
import { fanout } from "./fanout.js";
import { tokenServer } from "./token-server.js";
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
  /** The server's process id (memory readings). */
  serverPid?: number;
  /** Starts another instance on the same database (and Redis); absent on PGlite. */
  startPeer?: () => Promise<{ origin: string; pid: number }>;
};

export type Scenario = {
  name: string;
  description: string;
  setup(api: Api): Promise<LoadRequest>;
};

/** The outcome of a one-shot burst (instead of a sustained load). */
export type BurstResult = {
  requests: number;
  durationSeconds: number;
  latenciesMs: number[];
  errors: number;
  sampleError: string | null;
  /** Printed under the table. */
  notes: string[];
};

/** A scenario that fires one burst of concurrent requests, several rounds, and reports them. */
export type BurstScenario = {
  name: string;
  description: string;
  /** Starts more instances (needs PostgreSQL, and Redis between them). */
  peers?: boolean;
  burst(api: Api): Promise<BurstResult>;
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

async function developmentEnvironmentId(api: Api): Promise<string> {
  const { viewer } = await api.graphql<{
    viewer: { workspace: { environments: { id: string; slug: string }[] } };
  }>("{ viewer { workspace { environments { id slug } } } }");
  const environment = viewer.workspace.environments.find((e) => e.slug === "development");
  if (!environment) throw new Error("the default workspace has no development environment");
  return environment.id;
}

/** Creates an OAuth2 credential with imported tokens against the local token server. */
async function createOAuthCredential(api: Api, name: string, expiresAt: Date): Promise<string> {
  const server = await tokenServer();
  const { createCredential } = await api.graphql<{
    createCredential: { __typename: string; credential?: { id?: string }; message?: string };
  }>(
    `mutation ($input: CreateCredentialInput!) {
      createCredential(input: $input) {
        __typename
        ... on CreateCredentialSuccess { credential { ... on OAuth2Credential { id } } }
        ... on Error { message }
      }
    }`,
    {
      input: {
        name,
        environmentId: await developmentEnvironmentId(api),
        oauth2: {
          clientId: "bench-client",
          clientSecret: "bench-client-secret",
          authorizationUrl: "http://127.0.0.1:9/authorize",
          tokenUrl: server.url,
          accessToken: "bench-imported-access",
          refreshToken: "bench-imported-refresh",
          expiresAt: expiresAt.toISOString(),
        },
      },
    },
  );
  const id = createCredential.credential?.id;
  if (createCredential.__typename !== "CreateCredentialSuccess" || !id) {
    throw new Error(
      `createCredential answered ${createCredential.__typename}: ${createCredential.message ?? ""}`,
    );
  }
  return id;
}

const acquireQuery = `mutation ($id: ID!) {
  acquireCredentialHeaders(input: { credentialId: $id }) {
    __typename
    ... on AcquireCredentialHeadersSuccess { headers { name value } }
    ... on Error { message }
  }
}`;

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

const acquireOAuthCached: Scenario = {
  name: "acquire-oauth-cached",
  description:
    "acquireCredentialHeaders for an OAuth2 credential whose token is valid (no provider call)",
  async setup(api) {
    const id = await createOAuthCredential(
      api,
      "bench oauth cached",
      new Date(Date.now() + 86_400_000),
    );
    const { acquireCredentialHeaders: first } = await api.graphql<{
      acquireCredentialHeaders: { __typename: string };
    }>(acquireQuery, { id });
    if (first.__typename !== "AcquireCredentialHeadersSuccess") {
      throw new Error(`acquireCredentialHeaders answered ${first.__typename}`);
    }
    return graphqlLoad(
      api,
      acquireQuery,
      { id },
      {
        path: ["data", "acquireCredentialHeaders", "__typename"],
        equals: "AcquireCredentialHeadersSuccess",
      },
    );
  },
};

const stormSize = 500;
const stormRounds = 3;

const refreshStorm: BurstScenario = {
  name: "refresh-storm",
  description: `${stormSize} concurrent acquires on an expired OAuth2 credential (${stormRounds} rounds)`,
  async burst(api) {
    const server = await tokenServer();
    const latenciesMs: number[] = [];
    const callsPerRound: number[] = [];
    const tokensPerRound: number[] = [];
    let errors = 0;
    let sampleError: string | null = null;
    let durationSeconds = 0;
    for (let round = 0; round < stormRounds; round++) {
      const id = await createOAuthCredential(
        api,
        `bench storm ${round} ${Date.now()}`,
        new Date(Date.now() - 1000),
      );
      const callsBefore = server.calls();
      const began = performance.now();
      const answers = await Promise.all(
        Array.from({ length: stormSize }, async () => {
          const start = performance.now();
          try {
            const response = await fetch(`${api.origin}/graphql`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${api.adminKey}`,
              },
              body: JSON.stringify({ query: acquireQuery, variables: { id } }),
              signal: AbortSignal.timeout(60_000),
            });
            const body = (await response.json()) as {
              data?: {
                acquireCredentialHeaders?: { __typename: string; headers?: { value: string }[] };
              };
            };
            latenciesMs.push(performance.now() - start);
            const payload = body.data?.acquireCredentialHeaders;
            if (payload?.__typename !== "AcquireCredentialHeadersSuccess") {
              errors++;
              sampleError ??= JSON.stringify(body).slice(0, 300);
              return null;
            }
            return payload.headers?.[0]?.value ?? null;
          } catch (error) {
            errors++;
            sampleError ??= error instanceof Error ? error.message : String(error);
            return null;
          }
        }),
      );
      durationSeconds += (performance.now() - began) / 1000;
      callsPerRound.push(server.calls() - callsBefore);
      tokensPerRound.push(new Set(answers.filter(Boolean)).size);
    }
    const service = server.serviceTimesMs().sort((a, b) => a - b);
    const serviceP99 =
      service[Math.min(service.length - 1, Math.floor(service.length * 0.99))] ?? 0;
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
    const single = callsPerRound.every((calls) => calls === 1);
    return {
      requests: stormSize * stormRounds,
      durationSeconds,
      latenciesMs,
      errors,
      sampleError,
      notes: [
        `token-endpoint calls per round: ${callsPerRound.join(", ")} (must be 1: ${single ? "met" : "NOT met"})`,
        `distinct access tokens handed out per round: ${tokensPerRound.join(", ")}`,
        `authorization server service time p99 ${serviceP99.toFixed(1)} ms; acquire p99 ${p99.toFixed(1)} ms, ` +
          `${(p99 - serviceP99).toFixed(1)} ms above it`,
      ],
    };
  },
};

export const scenarios: (Scenario | BurstScenario)[] = [
  viewer,
  acquireStatic,
  acquireOAuthCached,
  refreshStorm,
  fanout,
];

/** Default selection (BENCH_SCENARIOS unset). */
export const defaultScenarioNames = scenarios.map((s) => s.name);
