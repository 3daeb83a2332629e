// Expected failures of domain operations. GraphQL maps each to a result type; none of them ever
// carries a secret value in its message.

export type FieldError = { path: string[]; message: string };

export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    readonly fieldErrors: FieldError[],
    message = "The input is not valid.",
  ) {
    super(message);
  }
}

/** Also raised for objects of another workspace, so the two cannot be told apart. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(readonly objectType: string) {
    super(`${objectType} not found.`);
  }
}
