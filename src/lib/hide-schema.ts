// Production hides the schema from callers, on every transport (HTTP, SSE and WebSocket): no
// introspection, and no "Did you mean …?" hints in any error, whether validation wrote it (fields,
// arguments, types, inline enum values, input fields) or execution did (variable coercion).
// yoga's disable-introspection plugin only acts on HTTP requests and graphql-armor's suggestion
// blocker only on validation messages of one shape, so neither is enough on its own.
import { type ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule } from "graphql";
import { handleStreamOrSingleExecutionResult, type Plugin } from "graphql-yoga";

const suggestion = /\s*Did you mean\b[^?]*\?/g;

function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  if (!error.message.includes("Did you mean")) return error;
  if (!(error instanceof GraphQLError)) {
    return new GraphQLError(error.message.replace(suggestion, "").trim());
  }
  return new GraphQLError(error.message.replace(suggestion, "").trim(), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function hideInResult({
  result,
  setResult,
}: {
  result: ExecutionResult;
  setResult: (result: ExecutionResult) => void;
}) {
  if (result.errors?.some((error) => error.message.includes("Did you mean"))) {
    setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
  }
}

export function useHideSchema(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(withoutSuggestion));
      };
    },
    onExecute() {
      return {
        onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, hideInResult),
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, hideInResult),
      };
    },
  };
}
