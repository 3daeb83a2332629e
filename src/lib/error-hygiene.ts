// GraphQL's own error messages quote what the caller sent: variable coercion prints the whole
// variable ("got invalid value { password: ... }"), literal checks and the parser print the
// offending token. This plugin rewrites those messages in one place, for every transport (HTTP,
// SSE and WebSocket all run the enveloped parse, validate, execute and subscribe): they keep the
// variable, the path and the problem, never the value.
import {
  coerceInputValue,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  isInputType,
  typeFromAST,
} from "graphql";
import type { Plugin } from "graphql-yoga";

const safeName = (name: string) =>
  /^[_A-Za-z][_0-9A-Za-z]{0,63}$/.test(name) ? `"${name}"` : "(a name that is not valid)";

/** The problem part of a coercion message, without the value it may quote. */
export function safeProblem(message: string): string {
  let match = /^Field "([^"]*)" of required type "([^"]*)" was not provided\.$/.exec(message);
  if (match) return message;
  match = /^Field "([^"]*)" is not defined by (?:input )?type "([^"]*)"\./.exec(message);
  if (match) return `Field ${safeName(match[1] ?? "")} is not defined by type "${match[2]}".`;
  if (/^Expected type "[^"]*" to be an object\.$/.test(message)) return message;
  if (/^Exactly one key must be specified for OneOf type "[^"]*"\.$/.test(message)) return message;
  if (/^Field "[^"]*" must be non-null\.$/.test(message)) return message;
  match = /^Expected value of type "([^"]*)"/.exec(message);
  if (match) return `Expected value of type "${match[1]}"; the value given is not one.`;
  match =
    /does not exist in "([^"]*)" enum/.exec(message) ?? /^Enum "([^"]*)" cannot/.exec(message);
  if (match) return `The value is not one of the values of enum "${match[1]}".`;
  match = /^([_A-Za-z][_0-9A-Za-z]*) cannot (?:represent|parse|serialize)/.exec(message);
  if (match) return `${match[1]} cannot represent the value given.`;
  return "The value is not valid for its type.";
}

/** Messages of the validation phase that quote literal values from the document. */
function safeValidationMessage(message: string): string {
  if (/^Expected value of type "/.test(message) || /does not exist in "[^"]*" enum/.test(message)) {
    return safeProblem(message);
  }
  if (/^Enum "[^"]*" cannot represent/.test(message)) return safeProblem(message);
  // A scalar's own parse error for a literal (`ID cannot represent ... value: <literal>`).
  if (/^[_A-Za-z][_0-9A-Za-z]* cannot (?:represent|parse|serialize)/.test(message)) {
    return safeProblem(message);
  }
  if (/^Field "[^"]*" is not defined by (?:input )?type "/.test(message)) {
    return safeProblem(message);
  }
  return message;
}

/** Syntax errors name the token they stopped at (`found String "..."`): keep what precedes it. */
function safeSyntaxMessage(message: string): string {
  const quote = message.indexOf('"');
  if (quote === -1) return message;
  return `${message
    .slice(0, quote)
    .replace(/[\s,:]+$/, "")
    .trim()}.`;
}

function withMessage(error: GraphQLError, message: string): GraphQLError {
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: error.extensions,
  });
}

const variableValueError = /^Variable "\$[_A-Za-z][_0-9A-Za-z]*" got invalid value/;

const printPath = (path: readonly (string | number)[]) =>
  path.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("");

/** Coerces the variables again to learn each failure's path and problem, then words them. */
function variableErrors(args: ExecutionArgs): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const operation = getOperationAST(args.document, args.operationName);
  const values = (args.variableValues ?? {}) as Record<string, unknown>;
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(args.schema, definition.type);
    if (!type || !isInputType(type) || values[name] == null) continue;
    coerceInputValue(values[name], type, (path, _invalid, error) => {
      const at = path.length > 0 ? ` at "${name}${printPath(path)}"` : "";
      errors.push(
        new GraphQLError(
          `Variable "$${name}" got an invalid value${at}: ${safeProblem(error.message)}`,
          { nodes: definition },
        ),
      );
    });
  }
  return errors;
}

function cleanResult(
  args: ExecutionArgs,
  result: ExecutionResult,
  setResult: (result: ExecutionResult) => void,
) {
  if (!result.errors?.some((error) => variableValueError.test(error.message))) return;
  const others = result.errors.filter((error) => !variableValueError.test(error.message));
  const rewritten = variableErrors(args);
  setResult({
    ...result,
    errors: [
      ...others,
      ...(rewritten.length > 0
        ? rewritten
        : [new GraphQLError("A variable got an invalid value.")]),
    ],
  });
}

const isExecutionResult = (value: unknown): value is ExecutionResult =>
  typeof value === "object" && value !== null && !(Symbol.asyncIterator in value);

export function useErrorHygiene(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError) {
          replaceParseResult(withMessage(result, safeSyntaxMessage(result.message)));
        }
      };
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        setResult(result.map((error) => withMessage(error, safeValidationMessage(error.message))));
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (isExecutionResult(result)) cleanResult(args, result, setResult);
        },
      };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (isExecutionResult(result)) cleanResult(args, result, setResult);
        },
      };
    },
  };
}
