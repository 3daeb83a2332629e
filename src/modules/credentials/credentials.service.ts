// Credentials: validation, encrypted storage, updates, deletion, secret reads and auth material.
// No GraphQL here; resolvers translate inputs and results.
import { z } from "zod";
import { type Caller, credentialScope, type ServiceDeps } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { isUniqueViolation } from "../../lib/db-errors.js";
import { type FieldError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { redactToAllowlist } from "../../lib/redact.js";
import { headerValueProblem, isHeaderName, textProblem } from "../../lib/text.js";
import { fieldError } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import { environmentForCaller } from "../workspaces/workspaces.service.js";
import { findCredentialForUse } from "./acquire.repository.js";
import {
  CredentialInUseError,
  CredentialNotUsableError,
  CredentialProviderError,
} from "./credentials.errors.js";
import { withCredentialEvents } from "./history.js";
import {
  type AuthMaterial,
  type CredentialKind,
  type CredentialStatus,
  multilineText,
  shortText,
  singleLine,
} from "./kinds/common.js";
import { type KindDefinition, kindDefinitions, kindInputKeys, settingsOf } from "./kinds/index.js";
import { providerInput } from "./provider-input.js";
import { maxTokenAttempts, refreshDecision } from "./refresh.service.js";
import { revokeOnDelete } from "./revoke.js";
import { encryptSecretRows, upsertSecretRows } from "./secret-rows.js";

export type CredentialActor = Pick<
  Caller,
  "workspaceId" | "environmentId" | "actor" | "scopes" | "connect"
>;
type Deps = ServiceDeps;

/** Where clause that limits every credential query to what the caller may see. */
export { credentialScope };

const baseFields = {
  description: multilineText(2000).trim().nullish(),
  providerKey: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9._-]{0,63}$/,
      "must be 1-64 lowercase letters, digits, dots, dashes or underscores",
    )
    .nullish(),
  externalUserId: z
    .string()
    .min(1, "must not be empty")
    .max(200, "must be at most 200 characters")
    .superRefine(singleLine)
    .nullish(),
};
const nameField = shortText(200);

const createBase = z.object({
  name: nameField,
  ...baseFields,
  environmentId: z.string().nullish(),
  verify: z.boolean().nullish(),
});
const updateBase = z.object({ name: nameField.optional(), ...baseFields });

function issuesToFieldErrors(error: z.ZodError, prefix: string[]): FieldError[] {
  return error.issues.map((issue) => ({
    path: ["input", ...prefix, ...issue.path.map(String)],
    message: issue.message,
  }));
}

/** Exactly one kind block must be given; returns its definition or the field errors. */
function chooseKind(input: Record<string, unknown>): KindDefinition | FieldError[] {
  const given = kindInputKeys.filter((key) => input[key] != null);
  if (given.length === 1) {
    return Object.values(kindDefinitions).find((d) => d.inputKey === given[0]) as KindDefinition;
  }
  const message =
    given.length === 0
      ? `give exactly one of ${kindInputKeys.join(", ")}`
      : `give exactly one of ${kindInputKeys.join(", ")}, not ${given.join(" and ")}`;
  return [{ path: ["input"], message }];
}

/**
 * A connect session creates credentials for its own end user, in its own environment, and for
 * one of its providers when it lists any. A different value is an error, never overridden
 * silently (the environment is checked by environmentForCaller).
 */
function connectSessionCreateProblem(
  connect: NonNullable<Caller["connect"]>,
  data: { externalUserId?: string | null | undefined; providerKey?: string | null | undefined },
) {
  const errors: FieldError[] = [];
  if (data.externalUserId != null && data.externalUserId !== connect.externalUserId) {
    errors.push({
      path: ["input", "externalUserId"],
      message: "must be the connect session's end user (or left out)",
    });
  }
  if (connect.providerKeys.length > 0) {
    if (data.providerKey == null) {
      errors.push({
        path: ["input", "providerKey"],
        message: `is required: one of ${connect.providerKeys.join(", ")}`,
      });
    } else if (!connect.providerKeys.includes(data.providerKey)) {
      errors.push({
        path: ["input", "providerKey"],
        message: `must be one of the connect session's providers: ${connect.providerKeys.join(", ")}`,
      });
    }
  }
  if (errors.length > 0) throw new ValidationError(errors);
}

export type CreateCredentialRequest = Record<string, unknown> & { environmentId?: string | null };

export async function createCredential(
  deps: Deps,
  caller: CredentialActor,
  request: CreateCredentialRequest,
) {
  const context = { production: deps.config.production, outbound: deps.outbound };
  // With a catalog provider, the kind block is completed from its entry and checked against it.
  const provider = providerInput(deps.catalog, request);
  const input = provider.input;
  const errors: FieldError[] = [...provider.errors];
  const base = createBase.safeParse(input);
  if (!base.success) errors.push(...issuesToFieldErrors(base.error, []));
  const definition = chooseKind(input);
  let creation: ReturnType<KindDefinition["create"]> | null = null;
  if (Array.isArray(definition)) {
    errors.push(...definition);
  } else {
    const parsed = definition.createInput(context).safeParse(input[definition.inputKey]);
    if (parsed.success) creation = definition.create(parsed.data);
    else errors.push(...issuesToFieldErrors(parsed.error, [definition.inputKey]));
  }
  if (errors.length > 0 || !base.success || !creation || Array.isArray(definition)) {
    throw new ValidationError(errors);
  }
  const data = base.data;
  if (caller.connect) connectSessionCreateProblem(caller.connect, data);
  creation.settings = { ...creation.settings, ...provider.settings };
  const environmentId = await environmentForCaller(deps.prisma, caller, data.environmentId ?? null);

  const id = uuidv7();
  let verifiedAt: Date | null = null;
  if (definition.verify && data.verify !== false) {
    // The kind's check before anything is stored; a failure throws the classified error.
    const entry = deps.catalog.get(data.providerKey);
    const verified = await definition.verify(creation, {
      ...providerContext(deps),
      provider: entry ? { entry, connectionConfig: provider.connectionConfig } : null,
    });
    creation = verified.creation;
    if (verified.verified) verifiedAt = new Date();
  }
  const secrets = await encryptSecretRows(
    deps.keyRing,
    { workspaceId: caller.workspaceId, credentialId: id },
    creation.secrets,
  );
  try {
    return await withCredentialEvents(deps, async (tx, record) => {
      const credential = await tx.credential.create({
        data: {
          id,
          workspaceId: caller.workspaceId,
          environmentId,
          kind: definition.kind,
          name: data.name,
          description: data.description ?? null,
          providerKey: data.providerKey ?? null,
          connectionConfig: provider.connectionConfig,
          externalUserId: caller.connect?.externalUserId ?? data.externalUserId ?? null,
          status: creation.status,
          settings: creation.settings as Prisma.InputJsonObject,
          expiresAt: creation.expiresAt,
          lastVerifiedAt: verifiedAt,
          secrets: { create: secrets },
        },
      });
      await recordAudit(tx, {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        action: "credential.create",
        objectType: "Credential",
        objectId: id,
        metadata: {
          kind: definition.kind,
          name: data.name,
          secretFields: Object.keys(creation.secrets),
        },
      });
      if (verifiedAt) {
        // The provider accepted the credential before it was stored.
        await record({
          workspaceId: caller.workspaceId,
          environmentId,
          credentialId: id,
          type: "VERIFIED",
          status: credential.status,
          dependents: [],
        });
      }
      return credential;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw fieldError(["name"], "is already used in this environment");
    throw error;
  }
}

function providerContext(deps: Deps) {
  return {
    outbound: deps.outbound,
    timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
    maxAttempts: maxTokenAttempts,
  };
}

export async function updateCredential(
  deps: Deps,
  caller: CredentialActor,
  id: string,
  input: Record<string, unknown>,
) {
  // A connect session never reaches this (type rules); should it, nothing is there for it.
  if (caller.connect) throw new NotFoundError("Credential");
  // A concurrent change (a refresh, another update) bumps the version this update was computed
  // from; computing it again on the newer row is always right, and rarely needed twice.
  for (let attempt = 0; ; attempt++) {
    const result = await updateOnce(deps, caller, id, input);
    if (result !== "conflict") return result;
    if (attempt >= 2) {
      throw new ValidationError([], "The credential changed while it was being updated; retry.");
    }
  }
}

async function updateOnce(
  deps: Deps,
  caller: CredentialActor,
  id: string,
  input: Record<string, unknown>,
) {
  const existing = await deps.prisma.credential.findFirst({
    where: { id, ...credentialScope(caller) },
    include: { secrets: { where: { retainUntil: null } } },
  });
  if (!existing) throw new NotFoundError("Credential");
  const definition = kindDefinitions[existing.kind];
  const context = { production: deps.config.production, outbound: deps.outbound };
  const errors: FieldError[] = [];
  const base = updateBase.safeParse(input);
  if (!base.success) errors.push(...issuesToFieldErrors(base.error, []));
  for (const key of kindInputKeys) {
    if (key !== definition.inputKey && input[key] != null) {
      errors.push({
        path: ["input", key],
        message: `this credential is ${existing.kind}; the kind of a credential never changes`,
      });
    }
  }
  const previousSettings = settingsOf(existing);
  let settings = previousSettings;
  const block = input[definition.inputKey];
  const changes: Record<string, unknown> = {};
  const givenSecrets: Record<string, string> = {};
  if (block != null) {
    const parsed = definition.updateInput(context).safeParse(block);
    if (!parsed.success) {
      errors.push(...issuesToFieldErrors(parsed.error, [definition.inputKey]));
    } else {
      for (const [key, value] of Object.entries(parsed.data)) {
        if (value === undefined || key === "expiresAt" || key === "refreshRequest") continue;
        if (definition.secretFields.includes(key)) {
          if (typeof value === "string") givenSecrets[key] = value;
          continue;
        }
        changes[key] = value;
      }
      if ("refreshRequest" in parsed.data && parsed.data.refreshRequest !== undefined) {
        changes.refreshRequest = parsed.data.refreshRequest;
      }
      const merged = definition.settings.safeParse({ ...settings, ...changes });
      if (!merged.success) {
        errors.push(...issuesToFieldErrors(merged.error, [definition.inputKey]));
      } else {
        settings = merged.data;
        const problem = definition.settingsProblem(settings);
        if (problem)
          errors.push({
            path: ["input", definition.inputKey, problem.field],
            message: problem.message,
          });
      }
    }
  }
  // Settings that carry secrets of their own (a template's headers and body) keep them in rows.
  let settingsSecrets: Record<string, string> | null = null;
  const split = definition.splitSettingsSecrets?.(settings, changes) ?? null;
  if (split) {
    settings = split.settings;
    settingsSecrets = split.secrets;
  }
  const rule = definition.secretEndpoints;
  const endpointSecrets =
    typeof rule.secrets === "function" ? rule.secrets(settings) : rule.secrets;
  const before = rule.endpoints(previousSettings);
  const after = rule.endpoints(settings);
  const changedEndpoints = Object.keys(after).filter((key) => after[key] !== before[key]);
  const stored = new Set(existing.secrets.map((secret) => secret.field));
  if (changedEndpoints.length > 0) {
    // A caller who cannot read a secret must not be able to send it somewhere new.
    for (const field of endpointSecrets) {
      if (stored.has(field) && givenSecrets[field] === undefined) {
        errors.push({
          path: ["input", definition.inputKey, field],
          message: `is required when ${changedEndpoints.join(", ")} changes: a secret is sent only to the endpoints it was entered for`,
        });
      }
    }
  }
  for (const field of Object.keys(givenSecrets)) {
    if (changedEndpoints.length === 0 || !endpointSecrets.includes(field)) {
      errors.push({
        path: ["input", definition.inputKey, field],
        message: `may only be given with a change of ${Object.keys(after).join(", ")}; use rotateCredential to replace it`,
      });
    }
  }
  if (errors.length > 0 || !base.success) throw new ValidationError(errors);

  const endpointChange = changedEndpoints.length > 0;
  const discarded = endpointChange ? rule.discard.filter((field) => stored.has(field)) : [];
  let status: CredentialStatus | null = null;
  if (endpointChange) {
    const next = rule.afterChange(settings);
    settings = next.settings;
    status = next.status;
  }
  const newSecrets = await encryptSecretRows(
    deps.keyRing,
    { workspaceId: existing.workspaceId, credentialId: existing.id },
    givenSecrets,
  );
  const settingsSecretRows = settingsSecrets
    ? await encryptSecretRows(
        deps.keyRing,
        { workspaceId: existing.workspaceId, credentialId: existing.id },
        settingsSecrets,
      )
    : null;

  const blockData = (block ?? {}) as { expiresAt?: Date | null };
  const settingsChanged = Object.keys(changes).length > 0 || endpointChange;
  const tokensGone = discarded.some((field) => field === "accessToken");
  const data: Prisma.CredentialUpdateManyMutationInput = {
    ...(base.data.name !== undefined ? { name: base.data.name } : {}),
    ...(base.data.description !== undefined ? { description: base.data.description } : {}),
    ...(base.data.providerKey !== undefined ? { providerKey: base.data.providerKey } : {}),
    ...(base.data.externalUserId !== undefined ? { externalUserId: base.data.externalUserId } : {}),
    ...(settingsChanged ? { settings: settings as Prisma.InputJsonObject } : {}),
    ...(definition.expiresAtInInput && blockData.expiresAt !== undefined
      ? { expiresAt: blockData.expiresAt }
      : {}),
    // The version fences out a refresh still in flight against the old endpoint; secrets a
    // rotation kept for rollback were entered for the old endpoint, so no rollback is left.
    ...(endpointChange ? { version: { increment: 1 }, previousSecretUntil: null } : {}),
    ...(tokensGone ? { expiresAt: null } : {}),
    ...(status !== null && status !== existing.status
      ? { status, statusReasonCode: null, statusReasonMessage: null }
      : {}),
  };
  let credential: Awaited<ReturnType<typeof deps.prisma.credential.findUniqueOrThrow>>;
  try {
    const written = await withCredentialEvents(deps, async (tx, record) => {
      const { count } = await tx.credential.updateMany({
        where: { id: existing.id, version: existing.version },
        data,
      });
      if (count !== 1) return null;
      if (settingsSecretRows && definition.settingsSecretPrefix) {
        // The previous settings' secret parts go; the new ones replace them.
        await tx.credentialSecret.deleteMany({
          where: {
            credentialId: existing.id,
            field: {
              startsWith: definition.settingsSecretPrefix,
              notIn: settingsSecretRows.map((row) => row.field),
            },
          },
        });
        await upsertSecretRows(tx, existing.id, settingsSecretRows);
      }
      if (endpointChange) {
        await tx.credentialSecret.deleteMany({
          where: {
            credentialId: existing.id,
            OR: [{ field: { in: discarded } }, { retainUntil: { not: null } }],
          },
        });
        await upsertSecretRows(tx, existing.id, newSecrets);
        // Authorizations started against the old endpoints must not complete against new ones.
        await tx.oAuthAuthorization.deleteMany({
          where: { credentialId: existing.id, usedAt: null },
        });
      }
      await recordAudit(tx, {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        action: "credential.update",
        objectType: "Credential",
        objectId: existing.id,
        metadata: {
          changed: [
            ...Object.keys(data).filter(
              (key) =>
                ![
                  "settings",
                  "version",
                  "status",
                  "statusReasonCode",
                  "statusReasonMessage",
                ].includes(key),
            ),
            ...Object.keys(changes),
          ],
          settings: redactToAllowlist(changes, [
            ...definition.auditableSettings,
          ]) as Prisma.InputJsonObject,
          ...(endpointChange
            ? { changedEndpoints, secretsGiven: Object.keys(givenSecrets), discarded }
            : {}),
        },
      });
      if (status !== null && status !== existing.status) {
        // An OAuth2 credential back to PENDING_AUTHORIZATION lost its tokens; a client-credentials
        // connection fetches its next token from the new endpoint.
        await record({
          workspaceId: existing.workspaceId,
          environmentId: existing.environmentId,
          credentialId: existing.id,
          type: status === "ACTIVE" ? "RESTORED" : "INVALIDATED",
          status,
          reason:
            status === "ACTIVE"
              ? null
              : {
                  code: "INVALID_CREDENTIALS",
                  message: `${changedEndpoints.join(", ")} changed: the tokens of the old endpoint were discarded; authorize again.`,
                },
        });
      }
      return tx.credential.findUniqueOrThrow({ where: { id: existing.id } });
    });
    if (!written) return "conflict" as const;
    credential = written;
  } catch (error) {
    if (isUniqueViolation(error)) throw fieldError(["name"], "is already used in this environment");
    throw error;
  }
  if (discarded.length > 0) {
    // The old server's tokens are revoked there, with what was stored before the change.
    const revocation = await revokeOnDelete(deps, existing);
    if (revocation !== "skipped") {
      await recordAudit(deps.prisma, {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        action: "credential.revoke",
        objectType: "Credential",
        objectId: existing.id,
        metadata: { reason: "endpoint changed", revocation },
      }).catch((error: unknown) =>
        deps.logger.warn("could not record token revocation", { credentialId: existing.id, error }),
      );
    }
  }
  return credential;
}

/**
 * Deletes a credential. With connectors using it the delete is refused (CredentialInUseError,
 * nothing changed, nothing revoked) unless `force`: then the connectors become NEEDS_CREDENTIAL
 * and a DELETED event lists them, in the same transaction as the delete.
 */
export async function deleteCredential(
  deps: Deps,
  caller: CredentialActor,
  id: string,
  { force = false }: { force?: boolean } = {},
) {
  if (force && caller.connect) {
    throw fieldError(["force"], "is not available to a connect session");
  }
  const existing = await deps.prisma.credential.findFirst({
    where: { id, ...credentialScope(caller) },
    include: { secrets: true },
  });
  if (!existing) throw new NotFoundError("Credential");
  const dependentsOf = (db: Prisma.TransactionClient | Deps["prisma"]) =>
    db.connector.findMany({ where: { credentialId: existing.id }, orderBy: { id: "asc" } });
  // Refused before anything happens, the provider's revocation included.
  if (!force) {
    const dependents = await dependentsOf(deps.prisma);
    if (dependents.length > 0) throw new CredentialInUseError(dependents);
  }
  // Revoke at the provider first (RFC 7009); a failure is recorded and never blocks the delete.
  const revocation = await revokeOnDelete(deps, existing);
  const detached = await withCredentialEvents(deps, async (tx, record) => {
    // The row lock makes a concurrent createConnector for this credential wait (its foreign key
    // check) until the delete is decided, so no connector is attached after the check below.
    const locked = await tx.$queryRaw<{ id: string }[]>`
      SELECT "id" FROM "Credential" WHERE "id" = ${existing.id} FOR UPDATE`;
    if (locked.length === 0) throw new NotFoundError("Credential");
    const dependents = await dependentsOf(tx);
    if (dependents.length > 0 && !force) throw new CredentialInUseError(dependents);
    if (dependents.length > 0) {
      await tx.connector.updateMany({
        where: { id: { in: dependents.map((connector) => connector.id) } },
        data: { credentialId: null, status: "NEEDS_CREDENTIAL" },
      });
    }
    // Secrets and pending authorizations go with the row (ON DELETE CASCADE); events stay.
    await tx.credential.delete({ where: { id: existing.id } });
    await record({
      workspaceId: existing.workspaceId,
      environmentId: existing.environmentId,
      credentialId: existing.id,
      type: "DELETED",
      status: existing.status,
      dependents: dependents.map((connector) => ({ id: connector.id, name: connector.name })),
      owner: { externalUserId: existing.externalUserId, providerKey: existing.providerKey },
    });
    await recordAudit(tx, {
      workspaceId: caller.workspaceId,
      actor: caller.actor,
      action: "credential.delete",
      objectType: "Credential",
      objectId: existing.id,
      metadata: {
        kind: existing.kind,
        name: existing.name,
        revocation,
        ...(dependents.length > 0
          ? { detachedConnectors: dependents.map((connector) => connector.id) }
          : {}),
      },
    });
    return dependents.map((connector) => ({
      ...connector,
      credentialId: null,
      status: "NEEDS_CREDENTIAL" as const,
    }));
  });
  return { credential: existing, revocation, detachedConnectors: detached };
}

/** Decrypts one secret field for a caller holding credentials:use; every read is audited. */
export async function readSecretValue(
  deps: Deps,
  caller: CredentialActor,
  credential: { id: string; workspaceId: string },
  field: string,
): Promise<string | null> {
  // Secret values never reach a connect session.
  if (caller.connect) return null;
  const row = await deps.prisma.credentialSecret.findUnique({
    where: { credentialId_field: { credentialId: credential.id, field } },
  });
  if (!row) return null;
  const value = await decryptLogged(deps, credential.workspaceId, credential.id, row);
  await recordAudit(deps.prisma, {
    workspaceId: credential.workspaceId,
    actor: caller.actor,
    action: "secret.read",
    objectType: "Credential",
    objectId: credential.id,
    metadata: { field },
  });
  return value;
}

async function decryptLogged(
  deps: Deps,
  workspaceId: string,
  credentialId: string,
  row: { field: string; ciphertext: string },
) {
  try {
    return await deps.keyRing.decrypt(row.ciphertext, {
      workspaceId,
      credentialId,
      field: row.field,
    });
  } catch (error) {
    deps.logger.error("secret could not be decrypted", { credentialId, field: row.field, error });
    throw error;
  }
}

// lastUsedAt (and the matching audit entry) is written at most once a minute per credential.
const useRecordIntervalMs = 60_000;

export type AcquiredAuth = AuthMaterial & { expiresAt: Date | null };

/** Ready-to-use auth material for a credential, refusing credentials that cannot be used. */
export async function acquireAuth(
  deps: Deps,
  caller: CredentialActor,
  id: string,
  minValiditySeconds: number,
): Promise<AcquiredAuth> {
  // A connect session never reaches this (type rules); should it, nothing is there for it.
  if (caller.connect) throw new NotFoundError("Credential");
  if (
    !Number.isInteger(minValiditySeconds) ||
    minValiditySeconds < 0 ||
    minValiditySeconds > 86_400
  ) {
    throw fieldError(
      ["minValiditySeconds"],
      "must be a whole number of seconds between 0 and 86400",
    );
  }
  const load = async (check = true) => {
    // One round trip for the credential and its current secrets: this is the hottest read.
    const row = await findCredentialForUse(deps.prisma, credentialScope(caller), id);
    if (!row) throw new NotFoundError("Credential");
    if (check) assertUsable(row);
    return row;
  };
  let credential = await load();
  const definition = kindDefinitions[credential.kind];
  if (definition.tokenGrant) {
    if (refreshDecision(credential, minValiditySeconds).refresh) {
      try {
        await deps.refresher.ensureFresh(credential.id, minValiditySeconds);
      } catch (error) {
        if (!(error instanceof CredentialProviderError)) throw error;
        // The caller learns why this refresh failed, whatever status it left behind.
        const after = await load(false);
        throw new CredentialNotUsableError(
          after.status,
          { code: error.code, message: error.message },
          `The credential's token could not be refreshed (${error.code}).`,
        );
      }
      credential = await load();
    }
  }
  const secrets: Record<string, string> = {};
  const needed = definition.authSecrets;
  const current = credential;
  await Promise.all(
    current.secrets
      .filter((row) => needed.includes(row.field))
      .map(async (row) => {
        secrets[row.field] = await decryptLogged(deps, current.workspaceId, current.id, row);
      }),
  );
  const material = authMaterial(credential, secrets, minValiditySeconds);
  // Stored values can predate today's input rules: never hand out a header that could split.
  assertSendable(credential, secrets, material);
  recordUse(deps, caller, credential);
  return { ...material, expiresAt: credential.expiresAt };
}

function assertUsable(credential: {
  status: CredentialStatus;
  statusReasonCode: string | null;
  statusReasonMessage: string | null;
}) {
  if (credential.status === "ACTIVE" || credential.status === "DEGRADED") return;
  const reason = credential.statusReasonCode
    ? { code: credential.statusReasonCode, message: credential.statusReasonMessage ?? "" }
    : null;
  const explanation =
    credential.status === "PENDING_AUTHORIZATION"
      ? "it has not been authorized yet"
      : `it is invalid${reason ? ` (${reason.code})` : ""}`;
  throw new CredentialNotUsableError(
    credential.status,
    reason,
    `The credential cannot be used: ${explanation}.`,
  );
}

function authMaterial(
  credential: {
    kind: CredentialKind;
    settings: unknown;
    status: CredentialStatus;
    expiresAt: Date | null;
  },
  secrets: Record<string, string>,
  minValiditySeconds: number,
): AuthMaterial {
  const definition = kindDefinitions[credential.kind];
  const expiresSoon =
    credential.expiresAt !== null &&
    credential.expiresAt.getTime() - Date.now() < minValiditySeconds * 1000;
  if (definition.expires && expiresSoon) {
    throw new CredentialNotUsableError(
      credential.status,
      { code: "INVALID_CREDENTIALS", message: "The token expires within the requested validity." },
      "The credential's token expires sooner than minValiditySeconds.",
    );
  }
  const material = definition.authMaterial(settingsOf(credential), secrets);
  if (!material) {
    throw new CredentialNotUsableError(
      credential.status,
      null,
      "The credential has no access token yet.",
    );
  }
  return material;
}

function assertSendable(
  credential: { kind: CredentialKind; settings: unknown; status: CredentialStatus },
  secrets: Record<string, string>,
  material: AuthMaterial,
) {
  const problems = kindDefinitions[credential.kind].sendProblems(settingsOf(credential), secrets);
  for (const header of material.headers) {
    if (!isHeaderName(header.name)) problems.push("header name is not a valid HTTP header name");
    const problem = headerValueProblem(header.value);
    if (problem) problems.push(`${header.name} header value ${problem}`);
  }
  for (const parameter of [...material.queryParameters, ...material.pathParameters]) {
    const problem = textProblem(parameter.value);
    if (problem) problems.push(`${parameter.name} parameter ${problem}`);
  }
  if (problems.length === 0) return;
  const message = `The stored credential cannot be sent: its ${problems[0]}. Rotate or update it.`;
  throw new CredentialNotUsableError(
    credential.status,
    { code: "INVALID_CREDENTIALS", message },
    message,
  );
}

function recordUse(
  deps: Deps,
  caller: CredentialActor,
  credential: { id: string; workspaceId: string; lastUsedAt: Date | null },
) {
  const now = Date.now();
  if (credential.lastUsedAt && now - credential.lastUsedAt.getTime() < useRecordIntervalMs) return;
  const threshold = new Date(now - useRecordIntervalMs);
  deps.prisma
    .$transaction(async (tx) => {
      const { count } = await tx.credential.updateMany({
        where: { id: credential.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: threshold } }] },
        data: { lastUsedAt: new Date(now) },
      });
      // Only the writer that moved lastUsedAt records the use, so concurrent callers add one entry.
      if (count === 1) {
        await recordAudit(tx, {
          workspaceId: credential.workspaceId,
          actor: caller.actor,
          action: "credential.use",
          objectType: "Credential",
          objectId: credential.id,
        });
      }
    })
    .catch((error: unknown) =>
      deps.logger.warn("could not record credential use", { credentialId: credential.id, error }),
    );
}

export type RewrapResult = { rewrapped: number; remaining: number; activeKeyId: string };

/**
 * Re-encrypts every secret that is not under the active key, in batches, while the API serves.
 * Each row is replaced only if its ciphertext is still the one that was read (compare-and-set),
 * so a concurrent rotation is never overwritten.
 */
export async function rewrapSecrets(
  deps: Pick<Deps, "prisma" | "keyRing" | "logger">,
  options: { workspaceId?: string; batchSize?: number } = {},
): Promise<RewrapResult> {
  const active = deps.keyRing.activeKid;
  const batchSize = options.batchSize ?? 100;
  const where: Prisma.CredentialSecretWhereInput = {
    keyId: { not: active },
    ...(options.workspaceId ? { credential: { workspaceId: options.workspaceId } } : {}),
  };
  let rewrapped = 0;
  let afterId: string | undefined;
  for (;;) {
    const batch = await deps.prisma.credentialSecret.findMany({
      where: { ...where, ...(afterId ? { id: { gt: afterId } } : {}) },
      select: {
        id: true,
        field: true,
        ciphertext: true,
        credential: { select: { id: true, workspaceId: true } },
      },
      orderBy: { id: "asc" },
      take: batchSize,
    });
    if (batch.length === 0) break;
    afterId = batch.at(-1)?.id;
    for (const row of batch) {
      const binding = {
        workspaceId: row.credential.workspaceId,
        credentialId: row.credential.id,
        field: row.field,
      };
      const ciphertext = await deps.keyRing.rewrap(row.ciphertext, binding);
      if (!ciphertext) continue;
      const { count } = await deps.prisma.credentialSecret.updateMany({
        where: { id: row.id, ciphertext: row.ciphertext },
        data: { ciphertext, keyId: active },
      });
      rewrapped += count;
    }
  }
  const remaining = await deps.prisma.credentialSecret.count({ where });
  return { rewrapped, remaining, activeKeyId: active };
}
