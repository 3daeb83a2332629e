// Turns zod issues into field errors with paths under the mutation's `input` argument.
import type { z } from "zod";
import { type FieldError, ValidationError } from "./errors.js";

export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fieldErrors: FieldError[] = result.error.issues.map((issue) => ({
    path: ["input", ...issue.path.map(String)],
    message: issue.message,
  }));
  throw new ValidationError(fieldErrors);
}

export function fieldError(path: string[], message: string): ValidationError {
  return new ValidationError([{ path: ["input", ...path], message }]);
}
