import { readFileSync } from "node:fs";
import {
  buildSchema,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
} from "graphql";
import { describe, expect, it } from "vitest";
import { accessSentence } from "../../src/lib/scope-docs.js";
import { schema } from "../../src/schema/index.js";

const printed = buildSchema(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));

/** The access sentences the schema appends to every output field's description. */
const accessPattern =
  /^(Requires .+\.|Any authenticated caller\.|Any caller of .+\.|Access as for .+\.|Open to any caller, authenticated or not\.)/;

/** An output field's description without its access sentence (the last paragraph). */
function ownText(description: string | null | undefined): string {
  const paragraphs = (description ?? "").split("\n\n");
  return paragraphs.slice(0, -1).join("\n\n").trim();
}

const present = (text: string | null | undefined) => (text ?? "").trim().length > 0;

function userTypes(target: GraphQLSchema) {
  return Object.values(target.getTypeMap()).filter(
    (type) => !type.name.startsWith("__") && !(isScalarType(type) && isSpecifiedScalarType(type)),
  );
}

/** Every element without a description of its own, by schema coordinate. */
function undocumented(target: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of userTypes(target)) {
    if (!present(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!present(ownText(field.description))) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) {
          if (!present(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name}:)`);
        }
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!present(field.description)) missing.push(`${type.name}.${field.name}`);
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) {
        if (!present(value.description)) missing.push(`${type.name}.${value.name}`);
      }
    }
  }
  return missing;
}

/** Output fields whose description does not end with the access they need. */
function withoutAccess(target: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of userTypes(target)) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const last = (field.description ?? "").split("\n\n").at(-1) ?? "";
      if (!accessPattern.test(last)) missing.push(`${type.name}.${field.name}`);
    }
  }
  return missing;
}

describe("schema documentation", () => {
  for (const [name, target] of [
    ["built", schema],
    ["printed (schema.graphql)", printed],
  ] as const) {
    it(`documents every type, field, argument, input field and enum value (${name})`, () => {
      expect(undocumented(target)).toEqual([]);
    });

    it(`says on every output field which access it needs (${name})`, () => {
      expect(withoutAccess(target)).toEqual([]);
    });
  }

  it("names every undocumented element, and every field without its access sentence", () => {
    const gappy = buildSchema(`
      """Documented."""
      type Query {
        """Reads a thing.\n\nAny authenticated caller."""
        thing(id: ID!): Thing
        """Requires scope \`admin\`."""
        bare: Int
      }
      type Thing {
        """The name."""
        name: String
      }
      """Documented."""
      enum Color {
        """Red."""
        RED
        BLUE
      }
      """Documented."""
      input Filter {
        color: Color
      }
    `);
    expect(undocumented(gappy)).toEqual([
      "Query.thing(id:)",
      "Query.bare",
      "Thing",
      "Thing.name",
      "Color.BLUE",
      "Filter.color",
    ]);
    expect(withoutAccess(gappy)).toEqual(["Thing.name"]);
  });

  it("documents unions, interfaces and scalars too", () => {
    const kinds = userTypes(schema).filter(
      (type) => isUnionType(type) || isInterfaceType(type) || isScalarType(type),
    );
    expect(kinds.length).toBeGreaterThan(0);
    expect(kinds.filter((type) => !present(type.description)).map((type) => type.name)).toEqual([]);
  });

  it("derives the access sentence from the auth rules", () => {
    const field = (type: string, name: string) => {
      const object = schema.getType(type);
      if (!isObjectType(object)) throw new Error(`${type} is not an object type`);
      return object.getFields()[name]?.description?.split("\n\n").at(-1);
    };
    expect(field("Mutation", "acquireCredentialHeaders")).toBe("Requires scope `credentials:use`.");
    expect(field("Mutation", "createCredential")).toBe(
      "Requires scope `credentials:write`, or a connect session.",
    );
    expect(field("Query", "viewer")).toBe("Any authenticated caller.");
    expect(field("Secret", "value")).toBe(
      "Requires scope `credentials:read`, or a connect session. The value also requires scope `credentials:use`; without it, it is null.",
    );
    expect(field("ApiKey", "name")).toBe("Requires scope `admin`.");
    // The returned object's own type rule is named when the field does not already require it.
    expect(field("CreateCredentialSuccess", "credential")).toBe(
      "Requires scope `credentials:write`, or a connect session. The returned Credential also requires scope `credentials:read`, or a connect session.",
    );
    expect(field("Mutation", "rewrapSecrets")).toBe(
      "Requires scope `admin` and a key not limited to one environment.",
    );
    expect(field("Workspace", "slug")).toBe(
      "Any caller of this workspace, or a caller holding scope `platform`.",
    );
  });

  it("words rules and refuses function rules without a note", () => {
    expect(
      accessSentence(null, { name: "f", rule: { scope: "admin" }, note: undefined }, false),
    ).toBe("Requires scope `admin`.");
    expect(
      accessSentence(
        null,
        { name: "f", rule: { $all: { scope: "admin", unrestricted: true } }, note: undefined },
        false,
      ),
    ).toBe("Requires scope `admin` and a key not limited to one environment.");
    expect(
      accessSentence(
        { name: "T", rule: { anyScope: ["credentials:read", "credentials:use"] }, note: undefined },
        null,
        false,
      ),
    ).toBe("Requires scope `credentials:read` or `credentials:use`.");
    expect(() =>
      accessSentence({ name: "T", rule: () => true, note: undefined }, null, false),
    ).toThrow(/scopeNote/);
    expect(
      accessSentence({ name: "T", rule: () => true, note: "Only its owner." }, null, false),
    ).toBe("Only its owner.");
  });
});
