// testCredential: the provider's dry call on demand, recorded in the credential's history.
import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors, ErrorInterface } from "../common/errors.types.js";
import { CredentialNotUsableError } from "../credentials/credentials.errors.js";
import {
  CredentialErrorCodeEnum,
  CredentialUnion,
  credentialGlobalId,
  credentialRawId,
  serviceDeps,
} from "../credentials/credentials.types.js";
import type { CredentialKind } from "../credentials/kinds/common.js";
import {
  CredentialNotVerifiableError,
  CredentialVerificationError,
  testCredential,
} from "../credentials/verification.service.js";

builder.objectType(CredentialVerificationError, {
  name: "CredentialVerificationError",
  description:
    "The provider's dry call failed. On create nothing was stored; on testCredential the failure is in the credential's history.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    code: t.field({
      type: CredentialErrorCodeEnum,
      description:
        "Why: INVALID_CREDENTIALS (401 or the provider's own rejection), INSUFFICIENT_SCOPES (403), RATE_LIMITED (429), PROVIDER_UNAVAILABLE (5xx or no answer in time), CONNECTION_REFUSED, ENDPOINT_NOT_ALLOWED (refused by the outbound policy).",
      resolve: (error) => error.code as never,
    }),
    httpStatus: t.int({
      nullable: true,
      description: "The provider's HTTP status, when it answered.",
      resolve: (error) => error.httpStatus,
    }),
  }),
});

builder.objectType(CredentialNotVerifiableError, {
  name: "CredentialNotVerifiableError",
  description:
    "There is no dry call for this credential: its provider (providerKey) has no verify request in the catalog for its kind.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

const TestCredentialInput = builder.inputType("TestCredentialInput", {
  description: "The credential to check with its provider.",
  fields: (t) => ({
    id: t.id({ required: true, description: "The credential's id." }),
  }),
});

const TestCredentialSuccess = builder
  .objectRef<{ credential: { id: string; kind: CredentialKind; lastVerifiedAt: Date | null } }>(
    "TestCredentialSuccess",
  )
  .implement({
    description: "The provider accepted the credential; VERIFIED is in its history.",
    authScopes: { anyScope: ["credentials:write", "credentials:use"] },
    fields: (t) => ({
      credentialId: t.id({
        description: "The credential's id.",
        resolve: (result) => credentialGlobalId(result.credential),
      }),
      verifiedAt: t.field({
        type: "DateTime",
        description: "When the check succeeded (the credential's lastVerifiedAt).",
        resolve: (result) => result.credential.lastVerifiedAt ?? new Date(),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now; needs credentials:read.",
        resolve: (result) => result.credential as never,
      }),
    }),
  });

builder.mutationField("testCredential", (t) =>
  t.field({
    type: TestCredentialSuccess,
    // A connector service holding credentials:use may check the credential it uses.
    authScopes: { anyScope: ["credentials:write", "credentials:use"] },
    description:
      "Checks a credential with its provider now (the catalog's verify request, a token request for client credentials, or the issuer's metadata), records VERIFIED or VERIFICATION_FAILED in its history and sets lastVerifiedAt. A static credential the provider rejects (401) becomes INVALID; one that passes again is restored. Transient failures change no status.",
    errors: {
      types: [
        ...commonErrors,
        CredentialVerificationError,
        CredentialNotVerifiableError,
        CredentialNotUsableError,
      ],
      union: {
        description:
          "The checked credential, or why the check did not run or failed: ValidationError, NotFoundError, CredentialVerificationError, CredentialNotVerifiableError or CredentialNotUsableError.",
      },
    },
    args: {
      input: t.arg({
        type: TestCredentialInput,
        required: true,
        description: "The credential to check.",
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await testCredential(serviceDeps(context), callerOf(context), id);
      return { credential };
    },
  }),
);
