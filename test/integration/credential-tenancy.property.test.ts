// Property: for any caller (workspace × scopes) and any credential id (own, foreign, missing),
// a foreign id answers exactly like a missing one, and Secret.value is null without
// credentials:use.
import { encodeGlobalID } from "@pothos/plugin-relay";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import { CredentialQuery, NodeQueryCredential } from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";
import { CreateWorkspaceMutation } from "../helpers/documents.js";

const scopeSets = [
  ["credentials:read"],
  ["credentials:read", "credentials:use"],
  ["credentials:read", "credentials:write"],
  ["credentials:use"],
  ["connectors:read"],
  ["admin"],
];

type Target = { id: string; workspace: "A" | "B" | "none"; secret: string | null };

describe("credential tenancy (property-based)", () => {
  let app: TestApp;
  const keys: { workspace: "A" | "B"; scopes: string[]; key: string }[] = [];
  const targets: Target[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    const created = dataOf(
      await app.execute(CreateWorkspaceMutation, { input: { slug: "tenant-b", name: "Tenant B" } }),
    ).createWorkspace;
    if (created.__typename !== "CreateWorkspaceSuccess") throw new Error("createWorkspace failed");
    const admins = { A: app.adminKey, B: created.adminApiKey };
    for (const workspace of ["A", "B"] as const) {
      for (const scopes of scopeSets) {
        keys.push({ workspace, scopes, key: await createKey(app, scopes, admins[workspace]) });
      }
      for (const [index, input] of [
        { bearer: { token: `token-${workspace}-value` } },
        { basic: { username: "u", password: `password-${workspace}-value` } },
        {
          clientCredentials: {
            clientId: "c",
            clientSecret: `cc-${workspace}-value`,
            tokenUrl: "https://auth.example/t",
          },
          verify: false,
        },
      ].entries()) {
        const credential = await createCredential(
          app,
          { name: `${workspace}-${index}`, ...input },
          admins[workspace],
        );
        const secret = Object.values(input)[0] as {
          token?: string;
          password?: string;
          clientSecret?: string;
        };
        targets.push({
          id: credential.id,
          workspace,
          secret: secret.token ?? secret.password ?? secret.clientSecret ?? null,
        });
      }
    }
    for (const typename of ["BearerCredential", "BasicCredential", "ClientCredentialsCredential"]) {
      targets.push({
        id: encodeGlobalID(typename, "01900000-0000-7000-8000-00000000dead"),
        workspace: "none",
        secret: null,
      });
    }
  }, 60_000);
  afterAll(() => app.close());

  it("holds for every caller and id", async () => {
    const missingAnswer = JSON.stringify({ data: { credential: null } });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), async (k, t) => {
        const caller = keys[k % keys.length];
        const target = targets[t % targets.length];
        if (!caller || !target) return;
        const canRead =
          caller.scopes.includes("credentials:read") || caller.scopes.includes("admin");
        const canUse = caller.scopes.includes("credentials:use") || caller.scopes.includes("admin");
        const result = await app.execute(CredentialQuery, { id: target.id }, { key: caller.key });
        if (!canRead) {
          expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
          return;
        }
        if (target.workspace !== caller.workspace) {
          expect(JSON.stringify(result)).toBe(missingAnswer);
          const node = await app.execute(
            NodeQueryCredential,
            { id: target.id },
            { key: caller.key },
          );
          expect(JSON.stringify(node)).toBe(JSON.stringify({ data: { node: null } }));
          return;
        }
        const credential = dataOf(result).credential as Record<
          string,
          { value?: string | null } | null
        > | null;
        expect(credential).not.toBeNull();
        const secrets = Object.values(credential ?? {})
          .filter(
            (field): field is { value?: string | null } =>
              !!field && typeof field === "object" && "isSet" in field,
          )
          .map((field) => field.value ?? null);
        expect(secrets).toContain(canUse ? target.secret : null);
        if (!canUse) expect(secrets.every((value) => value === null)).toBe(true);
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
