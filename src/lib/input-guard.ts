// A Pothos plugin that checks every string a caller sends, before any resolver runs: in
// arguments, input objects, lists and JSON scalars. NUL, lone surrogates and control characters
// are refused (CR, LF and tab only in input fields marked `extensions: { multiline: true }`), and
// values nest at most `maxInputDepth` levels. Fields whose payload includes ValidationError get
// one with the paths; other fields a BAD_USER_INPUT error. Messages name paths, never values.
import SchemaBuilder, { BasePlugin, type SchemaTypes } from "@pothos/core";
import {
  type GraphQLArgument,
  GraphQLError,
  type GraphQLInputType,
  getNullableType,
  isInputObjectType,
  isListType,
  isScalarType,
} from "graphql";
import { type FieldError, ValidationError } from "./errors.js";
import { textProblem } from "./text.js";

export const maxInputDepth = 32;
const maxProblems = 20;

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputGuard: InputGuardPlugin<Types>;
    }
  }
}

type Pending = {
  value: unknown;
  /** null: inside a JSON scalar, where any shape is allowed. */
  type: GraphQLInputType | null;
  path: string[];
  depth: number;
  multiline: boolean;
};

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** Problems with the argument values of one field; iterative, so depth cannot overflow the stack. */
export function inputProblems(
  args: readonly GraphQLArgument[],
  values: Record<string, unknown>,
): FieldError[] {
  const problems: FieldError[] = [];
  const stack: Pending[] = [];
  for (const arg of args) {
    const value = values[arg.name];
    if (value != null) {
      stack.push({ value, type: arg.type, path: [arg.name], depth: 0, multiline: false });
    }
  }
  while (stack.length > 0 && problems.length < maxProblems) {
    const { value, type, path, depth, multiline } = stack.pop() as Pending;
    if (value == null) continue;
    if (typeof value === "string") {
      const problem = textProblem(value, { multiline });
      if (problem) problems.push({ path, message: problem });
      continue;
    }
    if (typeof value !== "object") continue;
    if (depth >= maxInputDepth) {
      problems.push({ path, message: `must not nest deeper than ${maxInputDepth} levels` });
      continue;
    }
    const nullable = type ? getNullableType(type) : null;
    if (Array.isArray(value)) {
      const itemType =
        nullable && isListType(nullable) ? (nullable.ofType as GraphQLInputType) : null;
      if (nullable && !isListType(nullable) && !isScalarType(nullable)) continue;
      value.forEach((item, index) => {
        stack.push({
          value: item,
          type: itemType,
          path: [...path, String(index)],
          depth: depth + 1,
          multiline,
        });
      });
      continue;
    }
    if (!isPlainObject(value)) continue; // Date, URL and other parsed scalars
    if (nullable && isInputObjectType(nullable)) {
      const fields = nullable.getFields();
      for (const [key, entry] of Object.entries(value)) {
        const field = fields[key];
        if (!field) continue;
        stack.push({
          value: entry,
          type: field.type,
          path: [...path, key],
          depth: depth + 1,
          multiline: field.extensions?.multiline === true,
        });
      }
      continue;
    }
    if (nullable && !isScalarType(nullable)) continue;
    // A JSON scalar: keys and values are caller text too.
    for (const [key, entry] of Object.entries(value)) {
      const keyProblem = textProblem(key);
      if (keyProblem) {
        problems.push({ path, message: `has a key that ${keyProblem}` });
        continue;
      }
      stack.push({ value: entry, type: null, path: [...path, key], depth: depth + 1, multiline });
    }
  }
  return problems.sort((a, b) => a.path.join(".").localeCompare(b.path.join(".")));
}

function refusal(problems: FieldError[], pothosErrors: unknown): Error {
  const acceptsValidationError =
    Array.isArray(pothosErrors) && pothosErrors.includes(ValidationError);
  if (acceptsValidationError) return new ValidationError(problems);
  return new GraphQLError("The input is not valid.", {
    extensions: { code: "BAD_USER_INPUT", fieldErrors: problems },
  });
}

export class InputGuardPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: Parameters<BasePlugin<Types>["wrapResolve"]>[0],
    fieldConfig: Parameters<BasePlugin<Types>["wrapResolve"]>[1],
  ): Parameters<BasePlugin<Types>["wrapResolve"]>[0] {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    return (parent, args, context, info) => {
      const field = info.parentType.getFields()[info.fieldName];
      const problems = inputProblems(field?.args ?? [], args as Record<string, unknown>);
      if (problems.length > 0) throw refusal(problems, fieldConfig.extensions?.pothosErrors);
      return resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: Parameters<BasePlugin<Types>["wrapSubscribe"]>[0],
    fieldConfig: Parameters<BasePlugin<Types>["wrapSubscribe"]>[1],
  ): Parameters<BasePlugin<Types>["wrapSubscribe"]>[0] {
    if (!subscribe || Object.keys(fieldConfig.args).length === 0) return subscribe;
    return (parent, args, context, info) => {
      const field = info.parentType.getFields()[info.fieldName];
      const problems = inputProblems(field?.args ?? [], args as Record<string, unknown>);
      if (problems.length > 0) throw refusal(problems, null);
      return subscribe(parent, args, context, info);
    };
  }
}

const pluginName = "inputGuard";
SchemaBuilder.registerPlugin(pluginName, InputGuardPlugin);
export default pluginName;
