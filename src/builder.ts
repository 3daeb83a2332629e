// The schema builder: plugins, scalars and access rules. Types live in src/modules.
import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver, URLResolver } from "graphql-scalars";
import type { Context } from "./context.js";
import type PrismaTypes from "./generated/pothos-types.js";
import { getDatamodel } from "./generated/pothos-types.js";
import type { Scope } from "./lib/auth.js";
import InputGuardPlugin from "./lib/input-guard.js";

export type AuthScopes = {
  /** Any authenticated caller. */
  authenticated: boolean;
  /** A caller holding this scope (`admin` implies the non-platform scopes). */
  scope: Scope;
  /** A caller holding at least one of these scopes (for types reached from several paths). */
  anyScope: readonly Scope[];
  /** A caller of this workspace (by raw id). */
  inWorkspace: string;
  /** A caller whose key is not limited to one environment. */
  unrestricted: boolean;
};

/** The top-level error of a caller that lacks a scope (code FORBIDDEN). */
export function forbidden(
  message = "Not allowed: this caller lacks the scope this field requires.",
): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });
}

/** UNAUTHENTICATED without a caller, FORBIDDEN for a caller lacking a scope. */
function unauthorized(context: Context): GraphQLError {
  return context.caller
    ? forbidden()
    : new GraphQLError(
        context.authFailure ??
          "Authentication required: send Authorization: Bearer <API key or JWT>.",
        { extensions: { code: "UNAUTHENTICATED" } },
      );
}

/**
 * For operations that act on a whole workspace (or beyond it): a key limited to one environment
 * is refused with a message that says why, even when it holds the scope.
 */
export function workspaceWide(scope: Scope) {
  return {
    authScopes: { $all: { scope, unrestricted: true } },
    unauthorizedError: (_parent: unknown, _args: unknown, context: Context) =>
      context.caller?.environmentId && context.caller.scopes.has(scope)
        ? forbidden(
            "Not allowed: this operation acts on the whole workspace; use a key that is not limited to one environment.",
          )
        : unauthorized(context),
  } as const;
}

const capitalize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    URL: { Input: URL; Output: URL | string };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
}>({
  // The input guard comes last: it runs inside the errors plugin, after the access checks.
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ErrorsPlugin, InputGuardPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Subscriptions are authorized once, when they start, and then filter events themselves.
    authorizeOnSubscribe: true,
    // Type rules run once per object, before any of its fields (through isTypeOf): an object the
    // caller may not see fails as a whole, on whichever path reached it (`node` included).
    runScopesOnType: true,
    authScopes: (context) => ({
      authenticated: context.caller !== null,
      scope: (required: Scope) => context.caller?.scopes.has(required) ?? false,
      anyScope: (scopes: readonly Scope[]) =>
        scopes.some((required) => context.caller?.scopes.has(required) ?? false),
      inWorkspace: (workspaceId: string) => context.caller?.workspaceId === workspaceId,
      unrestricted: context.caller !== null && context.caller.environmentId === null,
    }),
    unauthorizedError: (_parent, context) => unauthorized(context),
  },
  prisma: {
    client: (context) => context.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "warn",
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // `node` is defined by the nodes module so that foreign and malformed ids resolve to null.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
  errors: {
    directResult: true,
    defaultUnionOptions: {
      name: ({ fieldName }) => `${capitalize(fieldName)}Payload`,
    },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("URL", URLResolver);
builder.addScalarType("JSON", JSONResolver);
