// Result error types shared by every mutation. Each implements the `Error` interface.
import { builder } from "../../builder.js";
import { type FieldError, NotFoundError, ValidationError } from "../../lib/errors.js";

export const ErrorInterface = builder.interfaceRef<Error>("Error").implement({
  description:
    "An expected failure of a mutation, returned as data in its payload union (not in `errors`). Select `__typename` and `... on Error { message }`, then the fields of the specific error types you handle.",
  fields: (t) => ({
    message: t.exposeString("message", {
      description:
        "What went wrong, in English, for people; never contains a secret. Branch on `__typename` (and codes), not on this text.",
    }),
  }),
});

const FieldErrorRef = builder.objectRef<FieldError>("FieldError").implement({
  description: "A problem with one input field; `path` starts at the mutation argument.",
  // Error results are shared by every mutation; each mutation field carries its own scope.
  authScopes: { authenticated: true },
  fields: (t) => ({
    path: t.exposeStringList("path", {
      description:
        'Where the problem is, from the mutation argument down (e.g. ["input", "oauth2", "tokenUrl"]); list indexes are strings.',
    }),
    message: t.exposeString("message", {
      description: 'The problem, in words that follow the path (e.g. "must be an https URL").',
    }),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  description:
    "The input was refused before anything changed; `fieldErrors` lists every problem found, by path. Nothing was stored.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    fieldErrors: t.field({
      type: [FieldErrorRef],
      description: "Every problem found, each with its input path.",
      resolve: (error) => error.fieldErrors,
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  description:
    "The object does not exist, or belongs to another workspace or environment than the caller's (the two are not told apart).",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

/** The error types every mutation can return. */
export const commonErrors = [ValidationError, NotFoundError];
