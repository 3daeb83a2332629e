// Result error types shared by every mutation. Each implements the `Error` interface.
import { builder } from "../../builder.js";
import { type FieldError, NotFoundError, ValidationError } from "../../lib/errors.js";

export const ErrorInterface = builder.interfaceRef<Error>("Error").implement({
  fields: (t) => ({ message: t.exposeString("message") }),
});

const FieldErrorRef = builder.objectRef<FieldError>("FieldError").implement({
  description: "A problem with one input field; `path` starts at the mutation argument.",
  // Error results are shared by every mutation; each mutation field carries its own scope.
  authScopes: { authenticated: true },
  fields: (t) => ({
    path: t.exposeStringList("path"),
    message: t.exposeString("message"),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    fieldErrors: t.field({ type: [FieldErrorRef], resolve: (error) => error.fieldErrors }),
  }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

/** The error types every mutation can return. */
export const commonErrors = [ValidationError, NotFoundError];
