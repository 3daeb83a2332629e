// Shared pieces of the cluster subscription tests: setup through the GraphQL API of one instance,
// and a redis-server of the test's own on a spare port (stopped and started by the test; the
// shared Redis is never touched).
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { graphql } from "../generated/index.js";
import { graphqlRequest, type Instance } from "./cluster.js";

export const ClusterCreateCredential = graphql(`
  mutation SubscriptionClusterCreateCredential($input: CreateCredentialInput!) {
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

export const ClusterCreateConnector = graphql(`
  mutation SubscriptionClusterCreateConnector($input: CreateConnectorInput!) {
    createConnector(input: $input) {
      __typename
      ... on CreateConnectorSuccess {
        connectorId
      }
      ... on Error {
        message
      }
    }
  }
`);

export const ClusterDeleteCredential = graphql(`
  mutation SubscriptionClusterDeleteCredential($input: DeleteCredentialInput!) {
    deleteCredential(input: $input) {
      __typename
    }
  }
`);

export const ClusterViewer = graphql(`
  query SubscriptionClusterViewer {
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

export async function developmentEnvironment(instance: Instance, key: string): Promise<string> {
  const result = await graphqlRequest(instance, key, ClusterViewer, {});
  const id = result.data?.viewer.workspace.environments.find((e) => e.slug === "development")?.id;
  if (!id) throw new Error(`no environment: ${JSON.stringify(result)}`);
  return id;
}

export async function createCredentialOn(
  instance: Instance,
  key: string,
  input: Record<string, unknown>,
): Promise<string> {
  const environmentId = await developmentEnvironment(instance, key);
  const result = await graphqlRequest(instance, key, ClusterCreateCredential, {
    input: { environmentId, ...input } as never,
  });
  const payload = result.data?.createCredential;
  if (payload?.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(result));
  return payload.credential.id;
}

export async function createConnectorOn(
  instance: Instance,
  key: string,
  credentialId: string,
  name: string,
): Promise<string> {
  const environmentId = await developmentEnvironment(instance, key);
  const result = await graphqlRequest(instance, key, ClusterCreateConnector, {
    input: { name, appKey: "github", environmentId, credentialId },
  });
  const payload = result.data?.createConnector;
  if (payload?.__typename !== "CreateConnectorSuccess") throw new Error(JSON.stringify(result));
  return payload.connectorId;
}

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type OwnRedis = {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
};

/** A redis-server of this test only, without persistence. */
export async function ownRedis(): Promise<OwnRedis> {
  const port = await sparePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const started = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("redis-server did not start")), 10_000);
      started.stdout?.on("data", (chunk) => {
        if (String(chunk).includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}`));
      });
    });
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}
