// Shortcuts for tests that need credentials.
import type { CreateCredentialInput } from "../generated/graphql.js";
import { dataOf, type TestApp } from "./app.js";
import { CreateCredentialMutation } from "./credential-documents.js";
import { CreateApiKeyMutation, ViewerQuery } from "./documents.js";

export async function environmentIds(app: TestApp, key = app.adminKey) {
  const { environments } = dataOf(await app.execute(ViewerQuery, undefined, { key })).viewer
    .workspace;
  return Object.fromEntries(environments.map((e) => [e.slug, e.id])) as Record<string, string>;
}

export async function createCredential(
  app: TestApp,
  input: Omit<CreateCredentialInput, "environmentId"> & { environmentId?: string },
  key = app.adminKey,
) {
  const environmentId = input.environmentId ?? (await environmentIds(app, key)).development;
  const result = dataOf(
    await app.execute(CreateCredentialMutation, { input: { ...input, environmentId } }, { key }),
  ).createCredential;
  if (result.__typename !== "CreateCredentialSuccess") {
    throw new Error(`createCredential failed: ${JSON.stringify(result)}`);
  }
  return result.credential;
}

export async function createKey(app: TestApp, scopes: string[], key = app.adminKey) {
  const result = dataOf(
    await app.execute(
      CreateApiKeyMutation,
      { input: { name: `key ${scopes.join(" ")}`, scopes } },
      { key },
    ),
  ).createApiKey;
  if (result.__typename !== "CreateApiKeySuccess") throw new Error(JSON.stringify(result));
  return result.key;
}
