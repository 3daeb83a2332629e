// The schema builder: plugins, scalars and access rules. Types live in src/modules.
import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin, { type AuthFailure } from "@pothos/plugin-scope-auth";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver, URLResolver } from "graphql-scalars";
import type { Context } from "./context.js";
import type PrismaTypes from "./generated/pothos-types.js";
import { getDatamodel } from "./generated/pothos-types.js";
import type { Scope } from "./lib/auth.js";
import InputGuardPlugin from "./lib/input-guard.js";
import ScopeDocsPlugin from "./lib/scope-docs.js";

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
  requiredScopes: readonly string[] = [],
): GraphQLError {
  return new GraphQLError(message, {
    extensions:
      requiredScopes.length > 0
        ? { code: "FORBIDDEN", requiredScopes: [...requiredScopes] }
        : { code: "FORBIDDEN" },
  });
}

/** The scopes named by a failed rule (any one of them would have satisfied that part of it). */
export function missingScopes(failure: AuthFailure | undefined): string[] {
  const found = new Set<string>();
  const visit = (node: AuthFailure) => {
    if ("failures" in node) for (const child of node.failures) visit(child);
    if (node.kind !== "AuthScope") return;
    if (node.scope === "scope") found.add(String(node.parameter));
    if (node.scope === "anyScope") {
      for (const scope of node.parameter as readonly string[]) found.add(scope);
    }
  };
  if (failure) visit(failure);
  return [...found].sort();
}

/** "Requires scope a" or "Requires one of the scopes a, b". */
function scopeMessage(scopes: readonly string[]): string {
  return scopes.length === 1
    ? `Not allowed. Requires scope ${scopes[0]}.`
    : `Not allowed. Requires one of the scopes ${scopes.join(", ")}.`;
}

/** FORBIDDEN for a caller lacking the given scopes (any one of them would do). */
export function missingScope(scopes: readonly string[]): GraphQLError {
  // `connect` belongs to connect-session tokens only; no key can be granted it, so naming it
  // would only mislead, unless it is the one scope that would do.
  const grantable = scopes.length > 1 ? scopes.filter((scope) => scope !== "connect") : scopes;
  return forbidden(scopeMessage(grantable), grantable);
}

/** UNAUTHENTICATED without a caller, FORBIDDEN (naming the missing scopes) for a caller lacking one. */
function unauthorized(context: Context, failure?: AuthFailure): GraphQLError {
  if (context.caller) {
    const scopes = missingScopes(failure);
    return scopes.length > 0 ? missingScope(scopes) : forbidden();
  }
  return new GraphQLError(
    context.authFailure ?? "Authentication required: send Authorization: Bearer <API key or JWT>.",
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
    unauthorizedError: (
      _parent: unknown,
      _args: unknown,
      context: Context,
      _info: unknown,
      result: { failure: AuthFailure },
    ) =>
      context.caller?.environmentId && context.caller.scopes.has(scope)
        ? forbidden(
            "Not allowed: this operation acts on the whole workspace; use a key that is not limited to one environment.",
          )
        : unauthorized(context, result.failure),
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
  plugins: [
    ScopeAuthPlugin,
    PrismaPlugin,
    RelayPlugin,
    ErrorsPlugin,
    InputGuardPlugin,
    ScopeDocsPlugin,
  ],
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
    unauthorizedError: (_parent, context, _info, result) => unauthorized(context, result.failure),
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
    nodeTypeOptions: {
      description:
        "An object with a global id. Ids are opaque strings: store them as they are, never parse them; `node(id)` fetches any of them again.",
    },
    idFieldOptions: {
      description: "The object's global id: opaque, stable, and unique across all types.",
    },
    pageInfoTypeOptions: {
      description: "Where a page sits in its list, and the cursors to fetch the pages around it.",
      extensions: { scopeNote: "Access as for the list this page belongs to." },
    },
    hasNextPageFieldOptions: {
      description: "True when more items follow this page; fetch them with `after: endCursor`.",
    },
    hasPreviousPageFieldOptions: {
      description:
        "True when items precede this page; fetch them with `before: startCursor` and `last`.",
    },
    startCursorFieldOptions: {
      description: "The cursor of the first item of this page; null when the page is empty.",
    },
    endCursorFieldOptions: {
      description: "The cursor of the last item of this page; null when the page is empty.",
    },
    cursorFieldOptions: {
      description: "An opaque cursor for this item; pass it as `after` or `before`.",
    },
    nodeFieldOptions: { description: "The item." },
    edgesFieldOptions: { description: "The items of this page, each with its cursor." },
    pageInfoFieldOptions: { description: "Cursors and whether more pages exist." },
    firstArgOptions: {
      description:
        "Return at most this many items from the start (after `after`). Defaults to 20; at most 100.",
    },
    lastArgOptions: {
      description: "Return at most this many items from the end (before `before`). At most 100.",
    },
    afterArgOptions: {
      description: "Return items after this cursor (an `endCursor` or edge `cursor`).",
    },
    beforeArgOptions: {
      description: "Return items before this cursor (a `startCursor` or edge `cursor`).",
    },
    defaultConnectionTypeOptions: {
      description: "One page of a list, in Relay cursor-connection form.",
    },
    defaultEdgeTypeOptions: {
      description: "One item of a page, with the cursor that points at it.",
    },
  },
  errors: {
    directResult: true,
    defaultUnionOptions: {
      name: ({ fieldName }) => `${capitalize(fieldName)}Payload`,
    },
  },
});

builder.addScalarType("DateTime", DateTimeResolver, {
  description:
    "A point in time as an ISO 8601 / RFC 3339 string. Output is always UTC with milliseconds (`2026-01-31T12:00:00.000Z`); input must carry an offset.",
});
builder.addScalarType("URL", URLResolver, {
  description: "An absolute URL as a string (`https://example.com/path`).",
});
builder.addScalarType("JSON", JSONResolver, {
  description:
    "Any JSON value (object, array, string, number, boolean or null), given inline; where a field expects a particular shape, its description says so.",
});
