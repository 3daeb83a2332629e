import { readFileSync } from "node:fs";
import {
  execute,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
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
