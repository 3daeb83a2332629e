import { readFileSync } from "node:fs";
import {
  execute,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  parse,
  printSchema,
  subscribe,
} from "graphql";
import { describe, expect, it } from "vitest";
import type { Context } from "../../src/context.js";
import { schema } from "../../src/schema/index.js";

describe("schema.graphql", () => {
  it("matches the schema printed from the code (run `npm run schema:print` after changes)", () => {
    const committed = readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8");
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });
});

const rootTypes = [
  schema.getQueryType(),
  schema.getMutationType(),
  schema.getSubscriptionType(),
].filter((type) => type != null);

/** A syntactically valid literal for any input type, so a field can be called at all. */
function sampleValue(type: GraphQLInputType): string {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return "[]";
  if (isEnumType(type)) return type.getValues()[0]?.name ?? "null";
  if (isScalarType(type)) {
    if (type.name === "Int" || type.name === "Float") return "1";
    if (type.name === "Boolean") return "true";
    if (type.name === "JSON") return "{}";
    if (type.name === "DateTime") return '"2030-01-01T00:00:00Z"';
    if (type.name === "URL") return '"https://example.test"';
    return '"x"';
  }
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const chosen = type.isOneOf ? fields.slice(0, 1) : fields.filter((f) => isNonNullType(f.type));
    return `{ ${chosen.map((f) => `${f.name}: ${sampleValue(f.type)}`).join(", ")} }`;
  }
  return "null";
}

function operationFor(operation: string, field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((arg) => isNonNullType(arg.type));
  const argText = args.length
    ? `(${args.map((a) => `${a.name}: ${sampleValue(a.type)}`).join(", ")})`
    : "";
  const named = getNamedType(getNullableType(field.type));
  const selection = "getFields" in named || "getTypes" in named ? " { __typename }" : "";
  return `${operation} { ${field.name}${argText}${selection} }`;
}

describe("access rules (fail closed)", () => {
  const fields = rootTypes.flatMap((type) =>
    Object.values(type.getFields()).map((field) => ({ root: type.name, field })),
  );

  it("covers every root field: query, mutation and subscription", () => {
    const missing = fields
      .filter(({ field }) => {
        const options = (field.extensions as { pothosOptions?: { authScopes?: unknown } })
          .pothosOptions;
        return options?.authScopes == null;
      })
      .map(({ root, field }) => `${root}.${field.name}`);
    expect(missing).toEqual([]);
    expect(fields.length).toBeGreaterThan(5);
  });

  const anonymous = {
    caller: null,
    authFailure: null,
    prisma: new Proxy(
      {},
      {
        get: () => {
          throw new Error("no database access expected");
        },
      },
    ),
    services: {},
  } as unknown as Context;

  for (const { root, field } of fields) {
    it(`refuses ${root}.${field.name} to an anonymous caller with UNAUTHENTICATED`, async () => {
      const operation =
        root === "Query" ? "query" : root === "Mutation" ? "mutation" : "subscription";
      const document = parse(operationFor(operation, field));
      const result =
        operation === "subscription"
          ? await subscribe({ schema, document, contextValue: anonymous })
          : await execute({ schema, document, contextValue: anonymous });
      const errors = "errors" in result ? (result.errors ?? []) : [];
      expect(errors.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
    });
  }
});

/**
 * Object types without a type-level rule, each with the reason it needs none. Everything else
 * must carry `authScopes`, so a type reached through `node`, a union or a nested field enforces
 * the same scope as its root field. Add a rule to a new type rather than an entry here.
 */
const typesWithoutRule: Record<string, string> = {
  Query: "root type: every field carries its own rule (test above)",
  Mutation: "root type: every field carries its own rule (test above)",
  Subscription: "root type: every field carries its own rule (test above)",
  PageInfo:
    "cursors and has-more flags only; shared by every connection, whose own type has a rule",
};

describe("access rules on types (fail closed)", () => {
  const typeRuleOf = (type: { extensions: unknown }) =>
    (type.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
  const types = Object.values(schema.getTypeMap()).filter(
    (type) => !type.name.startsWith("__") && (isObjectType(type) || isInterfaceType(type)),
  );

  it("gives every object type a type-level rule, or an allowlisted reason", () => {
    const missing = types
      .filter((type) => isObjectType(type) && typeRuleOf(type) == null)
      .map((type) => type.name)
      .filter((name) => !(name in typesWithoutRule));
    expect(missing).toEqual([]);
    expect(types.length).toBeGreaterThan(30);
  });

  it("keeps the allowlist short and true: each entry exists and has no rule", () => {
    for (const name of Object.keys(typesWithoutRule)) {
      const type = schema.getType(name);
      if (!type) continue; // Subscription arrives with the subscriptions issue.
      expect(typeRuleOf(type as never), name).toBeUndefined();
    }
    expect(Object.keys(typesWithoutRule).length).toBeLessThanOrEqual(5);
  });

  it("enforces type rules on the object itself (through isTypeOf), on every path to it", () => {
    const unchecked = types
      .filter((type) => isObjectType(type) && typeRuleOf(type) != null && !type.isTypeOf)
      .map((type) => type.name);
    expect(unchecked).toEqual([]);
  });

  it("puts credentials:read (or a connect session's connect) on every credential type and interface", () => {
    const credentialTypes = [
      "CredentialBase",
      "BasicCredential",
      "BearerCredential",
      "OAuth2Credential",
      "ClientCredentialsCredential",
      "Secret",
      "TokenRequestTemplate",
      "CredentialEvent",
      "CredentialAttempt",
      "CredentialConnection",
      "CredentialEdge",
      "CredentialEventConnection",
      "CredentialEventEdge",
    ];
    for (const name of credentialTypes) {
      const type = schema.getType(name);
      expect(type, name).toBeDefined();
      // A connect session passes the type rule; the where clause limits it to its own rows.
      expect(typeRuleOf(type as never), name).toEqual({
        anyScope: ["credentials:read", "connect"],
      });
    }
    // Shared with acquireCredentialHeaders (credentials:use); the parent on each path decides.
    for (const name of ["NameValue", "StatusReason"]) {
      expect(typeRuleOf(schema.getType(name) as never), name).toEqual({
        anyScope: ["credentials:read", "credentials:use", "connect"],
      });
    }
    expect(typeRuleOf(schema.getType("ApiKey") as never)).toEqual({ scope: "admin" });
  });
});
