// rotateCredential and rollbackCredentialRotation: replacing a static secret with an overlap
// window, and restoring the replaced one inside it.
import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors, ErrorInterface } from "../common/errors.types.js";
import {
  CredentialConflictError,
  CredentialProviderError,
  CredentialVerificationError,
  RotationRollbackUnavailableError,
} from "./credentials.errors.js";
import { CredentialUnion, credentialGlobalId, credentialRawId } from "./credentials.types.js";
import type { CredentialKind } from "./kinds/common.js";
import { defaultOverlapSeconds, maxOverlapSeconds } from "./rotation.service.js";

builder.objectType(CredentialConflictError, {
  name: "CredentialConflictError",
  description:
    "Another change to the credential (a concurrent rotation or rollback, or a token refresh) committed first; this request changed nothing and may be retried.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

const RollbackUnavailableReasonEnum = builder.enumType("RotationRollbackUnavailableReason", {
  description: "Why a rotation cannot be rolled back.",
  values: {
    NO_PREVIOUS_SECRET: {
      description:
        "No previous secret is kept: no rotation with an overlap, or it was already rolled back or replaced by a rotation with overlapSeconds 0.",
    },
    OVERLAP_EXPIRED: {
      description: "The overlap window closed; the previous secret is gone for good.",
    },
  } as const,
});

builder.objectType(RotationRollbackUnavailableError, {
  name: "RotationRollbackUnavailableError",
  description: "There is no previous secret to restore; nothing was changed.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    reason: t.field({
      type: RollbackUnavailableReasonEnum,
      description: "Why nothing can be restored.",
      resolve: (error) => error.reason,
    }),
    expiredAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the overlap window closed (OVERLAP_EXPIRED); null otherwise.",
      resolve: (error) => error.expiredAt,
    }),
  }),
});

const RotateSecretInput = builder.inputType("RotateSecretInput", {
  isOneOf: true,
  description: "The new secret: password (BASIC), token (BEARER) or clientSecret (OAuth kinds).",
  fields: (t) => ({
    password: t.string({ description: "The new password of a BASIC credential." }),
    token: t.string({ description: "The new token of a BEARER credential." }),
    clientSecret: t.string({
      description: "The new client secret of an OAUTH2 or CLIENT_CREDENTIALS credential.",
    }),
  }),
});

const RotateCredentialInput = builder.inputType("RotateCredentialInput", {
  description:
    "A new secret to swap in, keeping the replaced one for rollback during the overlap; or, on OAUTH2 and CLIENT_CREDENTIALS credentials without a secret, a request for a new access token now.",
  fields: (t) => ({
    id: t.id({ required: true, description: "The credential to rotate." }),
    secret: t.field({
      type: RotateSecretInput,
      description:
        "Omit on OAUTH2 and CLIENT_CREDENTIALS credentials to fetch a new access token now.",
    }),
    verify: t.boolean({
      defaultValue: true,
      description:
        "Check the new secret with the provider before swapping it in (client credentials: a token request with it); a refusal changes nothing. Kinds without a check pass.",
    }),
    overlapSeconds: t.int({
      defaultValue: defaultOverlapSeconds,
      description: `Keep the replaced secret this long for rollbackCredentialRotation (0 to ${maxOverlapSeconds}, i.e. up to 7 days; default ${defaultOverlapSeconds}, one hour). It is never handed out meanwhile; 0 discards it at once.`,
    }),
  }),
});

type CredentialResult = {
  credential: { id: string; kind: CredentialKind; previousSecretUntil: Date | null };
};

function successType(name: string, description: string) {
  return builder.objectRef<CredentialResult>(name).implement({
    description,
    // The credential inside needs credentials:read on top (its own type rule).
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      credentialId: t.id({
        description:
          "The credential's id. A caller without credentials:read selects this instead of `credential`.",
        resolve: (result) => credentialGlobalId(result.credential),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now; needs credentials:read.",
        resolve: (result) => result.credential as never,
      }),
      previousSecretExpiresAt: t.field({
        type: "DateTime",
        nullable: true,
        description:
          "Until when the replaced secret can be restored with rollbackCredentialRotation; null when none is kept.",
        resolve: (result) => result.credential.previousSecretUntil,
      }),
    }),
  });
}

builder.mutationField("rotateCredential", (t) =>
  t.field({
    type: successType(
      "RotateCredentialSuccess",
      "The new secret is in use (acquireCredentialHeaders hands it out); the replaced one is kept until previousSecretExpiresAt.",
    ),
    description:
      "Replaces a credential's password, token or client secret: verifies the new one, swaps it in, bumps the version and records ROTATED. Of concurrent rotations only one succeeds; the others get CredentialConflictError.",
    authScopes: { scope: "credentials:write" },
    errors: {
      types: [
        ...commonErrors,
        CredentialProviderError,
        CredentialVerificationError,
        CredentialConflictError,
      ],
      union: {
        description:
          "The rotated credential, or why not: ValidationError, NotFoundError, CredentialProviderError, CredentialVerificationError (the new secret failed; nothing changed) or CredentialConflictError (another rotation won).",
      },
    },
    args: {
      input: t.arg({
        type: RotateCredentialInput,
        required: true,
        description: "The credential and its new secret.",
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await context.services.rotation.rotate(callerOf(context), id, input);
      return { credential };
    },
  }),
);

const RollbackCredentialRotationInput = builder.inputType("RollbackCredentialRotationInput", {
  description: "The credential whose last rotation is undone.",
  fields: (t) => ({
    id: t.id({ required: true, description: "The credential to roll back." }),
  }),
});

builder.mutationField("rollbackCredentialRotation", (t) =>
  t.field({
    type: successType(
      "RollbackCredentialRotationSuccess",
      "The secret the last rotation replaced is current again; the one it had put in is discarded.",
    ),
    description:
      "Inside a rotation's overlap window, makes the replaced secret current again and discards the new one; bumps the version and records ROTATED. Outside the window, or with nothing kept: RotationRollbackUnavailableError.",
    authScopes: { scope: "credentials:write" },
    errors: {
      types: [...commonErrors, RotationRollbackUnavailableError, CredentialConflictError],
      union: {
        description:
          "The credential with its previous secret restored, or why not: ValidationError, NotFoundError, RotationRollbackUnavailableError or CredentialConflictError.",
      },
    },
    args: {
      input: t.arg({
        type: RollbackCredentialRotationInput,
        required: true,
        description: "The credential whose last rotation is undone.",
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await context.services.rotation.rollback(callerOf(context), id);
      return { credential };
    },
  }),
);
