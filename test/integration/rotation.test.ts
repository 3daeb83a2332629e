// Rotation of static secrets: the new secret is handed out at once, the replaced one is kept for
// the overlap window only and can be restored inside it, concurrent rotations of one credential
// give one success and typed conflicts, a client secret the provider refuses changes nothing,
// expired previous secrets are deleted in the background, and no secret ever shows up in a
// response, event or log line.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { CredentialEventRecord } from "../../src/modules/events/events.service.js";
import type { RotateCredentialInput } from "../generated/graphql.js";
import type { TestApp } from "../helpers/app.js";
import { dataOf, errorCodes, startTestApp } from "../helpers/app.js";
import { CreateConnectorMutation } from "../helpers/connector-documents.js";
import {
  AcquireHeadersMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";
import {
  RotationCredentialQuery,
  RotationRollbackMutation,
  RotationRotateMutation,
} from "../helpers/rotation-documents.js";
import {
  oauthErrorReply,
  startTokenStub,
  type TokenStub,
  tokenReply,
} from "../helpers/token-stub.js";

let app: TestApp;
let stub: TokenStub;
let workspaceId: string;
const planted: string[] = [];
const responses: string[] = [];
const published: CredentialEventRecord[] = [];
let stopListening: () => void = () => {};

/** A secret value that must never show up anywhere but in acquired auth material. */
function canary(label: string) {
  const value = `canary-${label}-${randomBytes(8).toString("hex")}`;
  planted.push(value);
  return value;
}

const unique = (prefix: string) => `${prefix} ${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  app = await startTestApp();
  stub = await startTokenStub();
  workspaceId = (
    await app.database.prisma.workspace.findFirstOrThrow({ where: { slug: "default" } })
  ).id;
  const events = app.keyport.services.pubsub.bus.subscribe("credentialEvents", workspaceId);
  stopListening = () => void events.return?.();
  void (async () => {
    for await (const event of events) published.push(event);
  })();
});

afterAll(async () => {
  stopListening();
  await stub?.close();
  await app?.close();
});

async function rotate(input: RotateCredentialInput) {
  const result = await app.execute(RotationRotateMutation, { input });
  responses.push(JSON.stringify(result));
  return dataOf(result).rotateCredential;
}

async function rollback(id: string) {
  const result = await app.execute(RotationRollbackMutation, { input: { id } });
  responses.push(JSON.stringify(result));
  return dataOf(result).rollbackCredentialRotation;
}

async function read(id: string) {
  const result = await app.execute(RotationCredentialQuery, { id });
  responses.push(JSON.stringify(result));
  return dataOf(result).credential;
}

/** The auth material a connector would get (secret by design: not kept with the responses). */
async function acquireHeader(id: string) {
  const result = dataOf(
    await app.execute(AcquireHeadersMutation, { input: { credentialId: id } }),
  ).acquireCredentialHeaders;
  if (result.__typename !== "AcquireCredentialHeadersSuccess") {
    throw new Error(`acquire failed: ${JSON.stringify(result)}`);
  }
  return result.headers[0]?.value;
}

const basicHeader = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

/** The client secret a token request authenticated with (client_secret_basic). */
function clientSecretSent(request: { headers: Record<string, unknown> } | undefined) {
  const header = String(request?.headers.authorization ?? "");
  const decoded = Buffer.from(header.replace(/^Basic /, ""), "base64").toString("utf8");
  return decodeURIComponent(decoded.slice(decoded.indexOf(":") + 1));
}

const rowOf = (globalId: string) =>
  app.database.prisma.credential.findFirstOrThrow({
    where: { id: Buffer.from(globalId, "base64").toString("utf8").split(":")[1] },
    include: { secrets: { orderBy: { field: "asc" } } },
  });

const storedEvents = async (globalId: string) =>
  app.database.prisma.credentialEvent.findMany({
    where: { credentialId: (await rowOf(globalId)).id },
    orderBy: { id: "asc" },
  });

/** Holds every rotation at the swap until `count` of them are prepared, then lets all go. */
function holdUntil(count: number) {
  let arrived = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  app.keyport.services.rotation.onBeforeSwap = async () => {
    arrived++;
    if (arrived >= count) release();
    await gate;
  };
}

describe("rotating a static secret", () => {
  it("hands out a new bearer token at once, keeps the old one for the window, and records ROTATED with the connectors", async () => {
    const oldToken = canary("bearer-old");
    const newToken = canary("bearer-new");
    const credential = await createCredential(app, {
      name: unique("bearer"),
      bearer: { token: oldToken },
    });
    const env = await environmentIds(app);
    const connector = dataOf(
      await app.execute(CreateConnectorMutation, {
        input: {
          name: unique("crm"),
          appKey: "crm",
          environmentId: env.development,
          credentialId: credential.id,
        },
      }),
    ).createConnector;
    if (connector.__typename !== "CreateConnectorSuccess") throw new Error("no connector");
    const before = await rowOf(credential.id);
    const startedAt = Date.now();

    const rotated = await rotate({ id: credential.id, secret: { token: newToken } });
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    if (rotated.__typename !== "RotateCredentialSuccess") return;
    // The default overlap is one hour.
    const until = Date.parse(rotated.previousSecretExpiresAt ?? "");
    expect(until).toBeGreaterThanOrEqual(startedAt + 3_600_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(rotated.credential).toMatchObject({
      previousSecretExpiresAt: rotated.previousSecretExpiresAt,
    });

    expect(await acquireHeader(credential.id)).toBe(`Bearer ${newToken}`);
    expect(await read(credential.id)).toMatchObject({
      previousSecretExpiresAt: rotated.previousSecretExpiresAt,
      token: { preview: `••••${newToken.slice(-4)}` },
    });
    const after = await rowOf(credential.id);
    expect(after.version).toBe(before.version + 1);
    expect(after.secrets.map((s) => s.field)).toEqual(["token", "token@previous"]);

    const events = await storedEvents(credential.id);
    expect(events.map((e) => [e.type, e.status])).toEqual([["ROTATED", "ACTIVE"]]);
    expect(events[0]?.dependents).toEqual([
      { id: expect.any(String), name: connector.connector.name },
    ]);
    await vi.waitFor(() =>
      expect(
        published.filter((e) => e.credentialId === after.id).map((e) => [e.type, e.dependents]),
      ).toEqual([["ROTATED", [{ id: expect.any(String), name: connector.connector.name }]]]),
    );
  });

  it("rolls a basic login back inside the window: the old password is current again, the new one is gone", async () => {
    const oldPassword = canary("basic-old");
    const newPassword = canary("basic-new");
    const credential = await createCredential(app, {
      name: unique("basic"),
      basic: { username: "svc", password: oldPassword },
    });
    const rotated = await rotate({
      id: credential.id,
      secret: { password: newPassword },
      overlapSeconds: 600,
    });
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    expect(await acquireHeader(credential.id)).toBe(basicHeader("svc", newPassword));
    const rotatedRow = await rowOf(credential.id);

    const restored = await rollback(credential.id);
    expect(restored).toMatchObject({
      __typename: "RollbackCredentialRotationSuccess",
      credentialId: credential.id,
      previousSecretExpiresAt: null,
      credential: { previousSecretExpiresAt: null, status: "ACTIVE" },
    });
    expect(await acquireHeader(credential.id)).toBe(basicHeader("svc", oldPassword));
    const after = await rowOf(credential.id);
    expect(after.version).toBe(rotatedRow.version + 1);
    expect(after.secrets.map((s) => s.field)).toEqual(["password"]);
    expect(
      await app.keyport.services.keyRing.decrypt(after.secrets[0]?.ciphertext ?? "", {
        workspaceId,
        credentialId: after.id,
        field: "password",
      }),
    ).toBe(oldPassword);
    expect((await storedEvents(credential.id)).map((e) => e.type)).toEqual(["ROTATED", "ROTATED"]);
    const audit = await app.database.prisma.auditEvent.findMany({
      where: { objectId: after.id, action: { startsWith: "credential.rot" } },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((a) => a.action)).toEqual([
      "credential.rotate",
      "credential.rotation.rollback",
    ]);

    // Nothing is left to restore: a second rollback is a typed error and changes nothing.
    expect(await rollback(credential.id)).toMatchObject({
      __typename: "RotationRollbackUnavailableError",
      rollbackReason: "NO_PREVIOUS_SECRET",
      expiredAt: null,
    });
    expect((await rowOf(credential.id)).version).toBe(after.version);
    expect(await acquireHeader(credential.id)).toBe(basicHeader("svc", oldPassword));
  });

  it("refuses a rollback after the window, even before the background task deleted the old secret", async () => {
    const oldToken = canary("late-old");
    const newToken = canary("late-new");
    const credential = await createCredential(app, {
      name: unique("late"),
      bearer: { token: oldToken },
    });
    expect(
      (await rotate({ id: credential.id, secret: { token: newToken }, overlapSeconds: 60 }))
        .__typename,
    ).toBe("RotateCredentialSuccess");
    // Move the window into the past.
    const row = await rowOf(credential.id);
    const closedAt = new Date(Date.now() - 1_000);
    await app.database.prisma.credential.update({
      where: { id: row.id },
      data: { previousSecretUntil: closedAt },
    });
    await app.database.prisma.credentialSecret.updateMany({
      where: { credentialId: row.id, field: "token@previous" },
      data: { retainUntil: closedAt },
    });
    const expired = {
      __typename: "RotationRollbackUnavailableError",
      rollbackReason: "OVERLAP_EXPIRED",
      expiredAt: closedAt.toISOString(),
    };
    expect(await rollback(credential.id)).toMatchObject(expired);
    expect(await read(credential.id)).toMatchObject({ previousSecretExpiresAt: null });
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${newToken}`);
    expect((await rowOf(credential.id)).version).toBe(row.version);

    // The background task deletes it; the rollback still says why it cannot restore.
    expect(await app.keyport.services.rotation.sweep()).toBeGreaterThanOrEqual(1);
    expect((await rowOf(credential.id)).secrets.map((s) => s.field)).toEqual(["token"]);
    expect(await rollback(credential.id)).toMatchObject(expired);
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${newToken}`);
  });

  it("keeps nothing with overlapSeconds 0, and refuses an overlap over 7 days or the current value", async () => {
    const oldToken = canary("zero-old");
    const credential = await createCredential(app, {
      name: unique("zero"),
      bearer: { token: oldToken },
    });
    expect(
      await rotate({ id: credential.id, secret: { token: canary("zero-new") }, overlapSeconds: 0 }),
    ).toMatchObject({ __typename: "RotateCredentialSuccess", previousSecretExpiresAt: null });
    expect((await rowOf(credential.id)).secrets.map((s) => s.field)).toEqual(["token"]);
    expect(await rollback(credential.id)).toMatchObject({ rollbackReason: "NO_PREVIOUS_SECRET" });

    expect(
      await rotate({
        id: credential.id,
        secret: { token: canary("long") },
        overlapSeconds: 604_801,
      }),
    ).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "overlapSeconds"] }],
    });
    const current = canary("same");
    expect(
      (await rotate({ id: credential.id, secret: { token: current }, overlapSeconds: 0 }))
        .__typename,
    ).toBe("RotateCredentialSuccess");
    expect(await rotate({ id: credential.id, secret: { token: current } })).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "secret", "token"] }],
    });
  });

  it("forgets the kept secret when the endpoint it was entered for changes", async () => {
    const credential = await createCredential(app, {
      name: unique("moved"),
      basic: { username: "u", password: canary("moved-old"), host: "db1.internal" },
    });
    await rotate({ id: credential.id, secret: { password: canary("moved-new") } });
    // Not kept with the responses: the credential fields include secret values.
    const updated = dataOf(
      await app.execute(UpdateCredentialMutation, {
        input: { id: credential.id, basic: { host: "db2.internal", password: canary("moved-3") } },
      }),
    ).updateCredential;
    expect(updated.__typename).toBe("UpdateCredentialSuccess");
    const row = await rowOf(credential.id);
    expect(row.secrets.map((s) => s.field)).toEqual(["password"]);
    expect(row.previousSecretUntil).toBeNull();
    expect(await read(credential.id)).toMatchObject({ previousSecretExpiresAt: null });
    // A secret entered for db1 is never restored to be sent to db2.
    expect(await rollback(credential.id)).toMatchObject({ rollbackReason: "NO_PREVIOUS_SECRET" });
  });

  it("rotates and rolls back an OAuth2 client secret; without a secret an OAuth2 rotation still refreshes", async () => {
    const oldSecret = canary("oauth-old");
    const newSecret = canary("oauth-new");
    const credential = await createCredential(app, {
      name: unique("oauth"),
      oauth2: {
        clientId: "app",
        clientSecret: oldSecret,
        authorizationUrl: "https://provider.example/authorize",
        tokenUrl: stub.tokenUrl,
      },
    });
    const rotated = await rotate({ id: credential.id, secret: { clientSecret: newSecret } });
    expect(rotated).toMatchObject({
      __typename: "RotateCredentialSuccess",
      previousSecretExpiresAt: expect.any(String),
      credential: { status: "PENDING_AUTHORIZATION" },
    });
    const decryptCurrent = async () => {
      const row = await rowOf(credential.id);
      const current = row.secrets.find((s) => s.field === "clientSecret");
      return app.keyport.services.keyRing.decrypt(current?.ciphertext ?? "", {
        workspaceId,
        credentialId: row.id,
        field: "clientSecret",
      });
    };
    expect(await decryptCurrent()).toBe(newSecret);
    expect((await rollback(credential.id)).__typename).toBe("RollbackCredentialRotationSuccess");
    expect(await decryptCurrent()).toBe(oldSecret);
    // Without a secret: the existing behaviour (a refresh), refused before authorization.
    expect(await rotate({ id: credential.id })).toMatchObject({
      __typename: "CredentialProviderError",
    });
  });

  it("needs credentials:write", async () => {
    const credential = await createCredential(app, {
      name: unique("scoped"),
      bearer: { token: canary("scoped-old") },
    });
    const reader = await createKey(app, ["credentials:read", "credentials:use"]);
    const rotation = await app.execute(
      RotationRotateMutation,
      { input: { id: credential.id, secret: { token: canary("scoped-new") } } },
      { key: reader },
    );
    const rollbackResult = await app.execute(
      RotationRollbackMutation,
      { input: { id: credential.id } },
      { key: reader },
    );
    responses.push(JSON.stringify(rotation), JSON.stringify(rollbackResult));
    expect(errorCodes(rotation)).toEqual(["FORBIDDEN"]);
    expect(errorCodes(rollbackResult)).toEqual(["FORBIDDEN"]);
    expect((await rowOf(credential.id)).version).toBe(0);
  });

  it("binds a kept secret to its credential and field: it decrypts nowhere else", async () => {
    const credential = await createCredential(app, {
      name: unique("bound"),
      bearer: { token: canary("bound-old") },
    });
    const other = await createCredential(app, {
      name: unique("other"),
      bearer: { token: canary("other-old") },
    });
    await rotate({ id: credential.id, secret: { token: canary("bound-new") } });
    await rotate({ id: other.id, secret: { token: canary("other-new") } });
    const row = await rowOf(credential.id);
    const otherRow = await rowOf(other.id);
    const kept = row.secrets.find((s) => s.field === "token@previous");
    if (!kept) throw new Error("no previous secret kept");
    const { keyRing } = app.keyport.services;
    for (const binding of [
      { workspaceId, credentialId: otherRow.id, field: "token@previous" },
      { workspaceId, credentialId: row.id, field: "token" },
    ]) {
      await expect(keyRing.decrypt(kept.ciphertext, binding)).rejects.toThrow(/binding mismatch/);
    }
    // Copied into the other credential's slot, a rollback there cannot restore it.
    await app.database.prisma.credentialSecret.updateMany({
      where: { credentialId: otherRow.id, field: "token@previous" },
      data: { ciphertext: kept.ciphertext },
    });
    const result = await app.execute(RotationRollbackMutation, { input: { id: other.id } });
    responses.push(JSON.stringify(result));
    expect(result.data?.rollbackCredentialRotation ?? null).toBeNull();
    expect((await rowOf(other.id)).version).toBe(otherRow.version);
  });
});

describe("concurrent rotations", () => {
  it("of one bearer credential: exactly one succeeds, the others get CredentialConflictError", async () => {
    const credential = await createCredential(app, {
      name: unique("race"),
      bearer: { token: canary("race-old") },
    });
    const submitted = Array.from({ length: 10 }, (_, i) => canary(`race-${i}`));
    holdUntil(submitted.length);
    let results: Awaited<ReturnType<typeof app.execute<unknown, unknown>>>[];
    try {
      results = await Promise.all(
        submitted.map((token) =>
          app.execute(RotationRotateMutation, { input: { id: credential.id, secret: { token } } }),
        ),
      );
    } finally {
      app.keyport.services.rotation.onBeforeSwap = null;
    }
    responses.push(...results.map((r) => JSON.stringify(r)));
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    const typenames = results.map(
      (r) => (r.data as { rotateCredential: { __typename: string } }).rotateCredential.__typename,
    );
    expect(typenames.filter((t) => t === "RotateCredentialSuccess")).toHaveLength(1);
    expect(typenames.filter((t) => t === "CredentialConflictError")).toHaveLength(9);
    const winner = submitted[typenames.indexOf("RotateCredentialSuccess")];
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${winner}`);
    const row = await rowOf(credential.id);
    expect(row.version).toBe(1);
    expect(row.secrets.map((s) => s.field)).toEqual(["token", "token@previous"]);
    expect((await storedEvents(credential.id)).map((e) => e.type)).toEqual(["ROTATED"]);
  });

  it("of one bearer credential without any holding: every answer is a success or a typed conflict", async () => {
    const credential = await createCredential(app, {
      name: unique("free race"),
      bearer: { token: canary("free-old") },
    });
    const submitted = Array.from({ length: 10 }, (_, i) => canary(`free-${i}`));
    const results = await Promise.all(
      submitted.map((token) =>
        app.execute(RotationRotateMutation, { input: { id: credential.id, secret: { token } } }),
      ),
    );
    responses.push(...results.map((r) => JSON.stringify(r)));
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    const typenames = results.map((r) => dataOf(r).rotateCredential.__typename);
    const successes = typenames.filter((t) => t === "RotateCredentialSuccess").length;
    expect(successes).toBeGreaterThanOrEqual(1);
    expect(typenames.filter((t) => t === "CredentialConflictError")).toHaveLength(10 - successes);
    const header = await acquireHeader(credential.id);
    expect(submitted.map((token) => `Bearer ${token}`)).toContain(header);
    const row = await rowOf(credential.id);
    expect(row.version).toBe(successes);
    expect((await storedEvents(credential.id)).map((e) => e.type)).toEqual(
      Array(successes).fill("ROTATED"),
    );
  });

  it("and rollbacks of one client-credentials connection: one wins, the rest conflict", async () => {
    stub.script(tokenReply({ access_token: canary("race-cc-token") }));
    const credential = await createCredential(app, {
      name: unique("cc race"),
      clientCredentials: {
        clientId: "race",
        clientSecret: canary("cc-race-old"),
        tokenUrl: stub.tokenUrl,
      },
    });
    const submitted = Array.from({ length: 10 }, (_, i) => canary(`cc-race-${i}`));
    holdUntil(submitted.length);
    let results: Awaited<ReturnType<typeof rotate>>[];
    try {
      results = await Promise.all(
        submitted.map((clientSecret) => rotate({ id: credential.id, secret: { clientSecret } })),
      );
    } finally {
      app.keyport.services.rotation.onBeforeSwap = null;
    }
    const typenames = results.map((r) => r.__typename);
    expect(typenames.filter((t) => t === "RotateCredentialSuccess")).toHaveLength(1);
    expect(typenames.filter((t) => t === "CredentialConflictError")).toHaveLength(9);
    const winner = submitted[typenames.indexOf("RotateCredentialSuccess")] ?? "";
    const row = await rowOf(credential.id);
    const current = row.secrets.find((s) => s.field === "clientSecret");
    expect(
      await app.keyport.services.keyRing.decrypt(current?.ciphertext ?? "", {
        workspaceId,
        credentialId: row.id,
        field: "clientSecret",
      }),
    ).toBe(winner);

    holdUntil(5);
    let rollbacks: Awaited<ReturnType<typeof rollback>>[];
    try {
      rollbacks = await Promise.all(Array.from({ length: 5 }, () => rollback(credential.id)));
    } finally {
      app.keyport.services.rotation.onBeforeSwap = null;
    }
    expect(rollbacks.map((r) => r.__typename).sort()).toEqual([
      "CredentialConflictError",
      "CredentialConflictError",
      "CredentialConflictError",
      "CredentialConflictError",
      "RollbackCredentialRotationSuccess",
    ]);
  });
});

describe("client-credentials rotation", () => {
  it("is verified with a token request: a refused secret changes nothing", async () => {
    const oldSecret = canary("cc-old");
    const newSecret = canary("cc-refused");
    stub.script(tokenReply({ access_token: canary("cc-first-token") }));
    const credential = await createCredential(app, {
      name: unique("cc refused"),
      clientCredentials: { clientId: "svc", clientSecret: oldSecret, tokenUrl: stub.tokenUrl },
    });
    const before = await rowOf(credential.id);
    const eventsBefore = await storedEvents(credential.id);
    stub.script(oauthErrorReply("invalid_client", 401));

    const refused = await rotate({ id: credential.id, secret: { clientSecret: newSecret } });
    expect(refused.__typename).toBe("CredentialProviderError");
    if (refused.__typename !== "CredentialProviderError") return;
    expect(["AUTHORIZATION_FAILED", "INVALID_CREDENTIALS"]).toContain(refused.code);
    // It was the new secret the provider refused; one request, no retry of a permanent error.
    expect(stub.requests).toHaveLength(1);
    expect(clientSecretSent(stub.requests[0])).toBe(newSecret);
    const after = await rowOf(credential.id);
    expect(after.version).toBe(before.version);
    expect(after.secrets).toEqual(before.secrets);
    expect(after.previousSecretUntil).toBeNull();
    expect(await storedEvents(credential.id)).toEqual(eventsBefore);
  });

  it("swaps in a verified secret with its token, and a rollback makes the next token request use the old one", async () => {
    const oldSecret = canary("cc-keep-old");
    const newSecret = canary("cc-keep-new");
    const firstToken = canary("cc-token-1");
    const verifiedToken = canary("cc-token-2");
    const laterToken = canary("cc-token-3");
    stub.script(tokenReply({ access_token: firstToken }));
    const credential = await createCredential(app, {
      name: unique("cc"),
      clientCredentials: { clientId: "svc", clientSecret: oldSecret, tokenUrl: stub.tokenUrl },
    });
    stub.script(tokenReply({ access_token: verifiedToken }));
    const rotated = await rotate({ id: credential.id, secret: { clientSecret: newSecret } });
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    expect(stub.requests.map(clientSecretSent)).toEqual([newSecret]);
    // The token the verification obtained is the one handed out; no further request.
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${verifiedToken}`);
    expect(stub.requests).toHaveLength(1);
    expect(await read(credential.id)).toMatchObject({
      previousSecretExpiresAt: expect.any(String),
      clientSecret: { preview: `••••${newSecret.slice(-4)}` },
    });
    const rotatedEvent = (await storedEvents(credential.id)).at(-1);
    expect(rotatedEvent).toMatchObject({
      type: "ROTATED",
      action: "client_credentials",
      outcome: "success",
      httpStatus: 200,
    });

    expect((await rollback(credential.id)).__typename).toBe("RollbackCredentialRotationSuccess");
    stub.script(tokenReply({ access_token: laterToken }));
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${laterToken}`);
    expect(stub.requests.map(clientSecretSent)).toEqual([oldSecret]);
  });

  it("with verify: false swaps without asking the provider and keeps the cached token", async () => {
    const token = canary("cc-unverified-token");
    stub.script(tokenReply({ access_token: token }));
    const credential = await createCredential(app, {
      name: unique("cc unverified"),
      clientCredentials: {
        clientId: "svc",
        clientSecret: canary("cc-unverified-old"),
        tokenUrl: stub.tokenUrl,
      },
    });
    stub.script(oauthErrorReply("invalid_client", 401));
    expect(
      (
        await rotate({
          id: credential.id,
          secret: { clientSecret: canary("cc-unverified-new") },
          verify: false,
        })
      ).__typename,
    ).toBe("RotateCredentialSuccess");
    expect(stub.requests).toHaveLength(0);
    expect(await acquireHeader(credential.id)).toBe(`Bearer ${token}`);
  });
});

describe("the background task", () => {
  it("deletes previous secrets whose window closed, and only those", async () => {
    const expired = await createCredential(app, {
      name: unique("expired"),
      bearer: { token: canary("sweep-expired-old") },
    });
    const open = await createCredential(app, {
      name: unique("open"),
      basic: { username: "u", password: canary("sweep-open-old") },
    });
    await rotate({ id: expired.id, secret: { token: canary("sweep-expired-new") } });
    await rotate({ id: open.id, secret: { password: canary("sweep-open-new") } });
    const expiredRow = await rowOf(expired.id);
    await app.database.prisma.credentialSecret.updateMany({
      where: { credentialId: expiredRow.id, retainUntil: { not: null } },
      data: { retainUntil: new Date(Date.now() - 60_000) },
    });
    const deleted = await app.keyport.services.rotation.sweep();
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect((await rowOf(expired.id)).secrets.map((s) => s.field)).toEqual(["token"]);
    expect((await rowOf(open.id)).secrets.map((s) => s.field)).toEqual([
      "password",
      "password@previous",
    ]);
    expect(
      await app.database.prisma.credentialSecret.count({
        where: { retainUntil: { lte: new Date() } },
      }),
    ).toBe(0);
    // A second pass (another instance, say) finds nothing and fails nothing.
    expect(await app.keyport.services.rotation.sweep()).toBe(0);
    expect((await rollback(open.id)).__typename).toBe("RollbackCredentialRotationSuccess");
  });
});

describe("secrets never leak", () => {
  it("shows no planted secret in any response, stored or published event, audit entry or log line", async () => {
    expect(planted.length).toBeGreaterThan(30);
    const events = JSON.stringify(
      await app.database.prisma.credentialEvent.findMany(),
      (_key, value) => (typeof value === "bigint" ? value.toString() : value),
    );
    const audit = JSON.stringify(await app.database.prisma.auditEvent.findMany());
    const haystacks = {
      responses: responses.join("\n"),
      events,
      published: JSON.stringify(published),
      audit,
      logs: app.logs.join("\n"),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of planted) {
        expect(text.includes(secret), `${where} must not contain a secret`).toBe(false);
      }
    }
    expect(responses.length).toBeGreaterThan(30);
  });
});
