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
};

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
    authScopes: (context) => ({
      authenticated: context.caller !== null,
      scope: (required: Scope) => context.caller?.scopes.has(required) ?? false,
    }),
    unauthorizedError: (_parent, context) =>
      context.caller
        ? new GraphQLError("Not allowed: this caller lacks the scope this field requires.", {
            extensions: { code: "FORBIDDEN" },
          })
        : new GraphQLError(
            context.authFailure ??
              "Authentication required: send Authorization: Bearer <API key or JWT>.",
            { extensions: { code: "UNAUTHENTICATED" } },
          ),
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
