// A Pothos plugin that appends to every output field's description the access it needs, read
// from the same authScopes that enforce it (the field's own rule and its parent type's), so the
// documentation cannot drift from the rules. Rules given as functions cannot be read: such a field
// or type states its rule in `extensions: { scopeNote: "..." }`, and the build fails without one.
import SchemaBuilder, { BasePlugin, type SchemaTypes } from "@pothos/core";

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      scopeDocs: ScopeDocsPlugin<Types>;
    }
  }
}

const code = (scope: unknown) => `\`${String(scope)}\``;

/** The phrase for one rule entry (`scope: "credentials:read"` → "scope `credentials:read`"). */
function entryPhrase(key: string, value: unknown): string {
  switch (key) {
    case "authenticated":
      return "an authenticated caller";
    case "scope":
      return `scope ${code(value)}`;
    case "anyScope": {
      // `connect` is held only by connect-session tokens, so it reads as a kind of caller.
      const scopes = (value as readonly unknown[]).filter((scope) => scope !== "connect");
      const session =
        scopes.length < (value as readonly unknown[]).length ? ", or a connect session" : "";
      return scopes.length > 0
        ? `scope ${scopes.map(code).join(" or ")}${session}`
        : "a connect session";
    }
    case "unrestricted":
      return "a key not limited to one environment";
    case "inWorkspace":
      return "a caller of the object's workspace";
    case "$all":
      return mapPhrase(value as Record<string, unknown>, " and ");
    case "$any":
      return mapPhrase(value as Record<string, unknown>, " or ");
    case "$granted":
      return `the granted scope ${code(value)}`;
    default:
      throw new Error(`scope-docs: no wording for the auth scope "${key}"`);
  }
}

/** A rule map; top-level entries are alternatives (scope-auth's default strategy is "any"). */
function mapPhrase(map: Record<string, unknown>, joiner: string): string {
  return Object.entries(map)
    .filter(([, value]) => value !== false && value !== undefined)
    .map(([key, value]) => entryPhrase(key, value))
    .join(joiner);
}

/** "scope `a` and scope `b`" reads as "scopes `a` and `b`". */
const mergeScopes = (phrase: string) =>
  phrase.replace(/\bscope (`[^`]+`) and scope (`[^`]+`)/g, "scopes $1 and $2");

/** "Requires …" for a static rule, or null for a rule that only needs a caller. */
function requirement(rule: Record<string, unknown>): string | null {
  const keys = Object.keys(rule);
  if (keys.length === 1 && keys[0] === "authenticated" && rule.authenticated === true) return null;
  return mergeScopes(mapPhrase(rule, " or "));
}

type Owner = { name: string; rule: unknown; note: unknown };

function ruleText(owner: Owner): { needs: string | null } | { note: string } {
  if (typeof owner.note === "string") return { note: owner.note };
  if (typeof owner.rule === "function") {
    throw new Error(
      `scope-docs: ${owner.name} has an auth rule given as a function; describe it in extensions.scopeNote`,
    );
  }
  return { needs: requirement(owner.rule as Record<string, unknown>) };
}

/** The access sentence for a field, from its own rule and its parent type's. */
export function accessSentence(
  typeOwner: Owner | null,
  fieldOwner: Owner | null,
  nullWhenUnauthorized: boolean,
  isList = false,
): string {
  const type = typeOwner?.rule || typeOwner?.note ? ruleText(typeOwner) : null;
  const field = fieldOwner?.rule || fieldOwner?.note ? ruleText(fieldOwner) : null;
  if (field && "note" in field) return field.note;
  if (type && "note" in type && !field) return type.note;
  const typeNeeds = type && "needs" in type ? type.needs : null;
  const fieldNeeds = field?.needs ?? null;
  const typePart = type && "note" in type ? type.note : null;
  if (nullWhenUnauthorized && fieldNeeds) {
    const base = typePart ?? (typeNeeds ? `Requires ${typeNeeds}.` : "Any authenticated caller.");
    return `${base} The value also requires ${fieldNeeds}; without it, it is ${isList ? "an empty list" : "null"}.`;
  }
  const parts = [typeNeeds, fieldNeeds].filter(
    (part, index, all): part is string => part !== null && all.indexOf(part) === index,
  );
  if (typePart)
    return parts.length > 0 ? `${typePart} Also requires ${parts.join(" and ")}.` : typePart;
  if (parts.length > 0) return `Requires ${mergeScopes(parts.join(" and "))}.`;
  if (type || field) return "Any authenticated caller.";
  return "Open to any caller, authenticated or not.";
}

const joinDescription = (description: string | undefined, sentence: string) =>
  description ? `${description.trimEnd()}\n\n${sentence}` : sentence;

export class ScopeDocsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(
    fieldConfig: Parameters<BasePlugin<Types>["onOutputFieldConfig"]>[0],
  ): ReturnType<BasePlugin<Types>["onOutputFieldConfig"]> {
    const typeConfig = this.buildCache.getTypeConfig(fieldConfig.parentType);
    const typeOptions = typeConfig.pothosOptions as { authScopes?: unknown };
    const isRoot =
      typeConfig.kind === "Query" ||
      typeConfig.kind === "Mutation" ||
      typeConfig.kind === "Subscription";
    const fieldOptions = fieldConfig.pothosOptions as {
      authScopes?: unknown;
      unauthorizedResolver?: unknown;
    };
    const interfaceWithoutRule =
      typeConfig.kind === "Interface" &&
      !typeOptions.authScopes &&
      !typeConfig.extensions?.scopeNote;
    const typeOwner: Owner | null = isRoot
      ? null
      : {
          name: typeConfig.name,
          rule: typeOptions.authScopes,
          note: interfaceWithoutRule
            ? "Access as for the object implementing this interface; see that type."
            : typeConfig.extensions?.scopeNote,
        };
    const fieldOwner: Owner = {
      name: `${typeConfig.name}.${fieldConfig.name}`,
      rule: fieldOptions.authScopes,
      note: fieldConfig.extensions?.scopeNote,
    };
    const sentence = accessSentence(
      typeOwner,
      fieldOwner,
      typeof fieldOptions.unauthorizedResolver === "function",
      fieldConfig.type.kind === "List",
    );
    const returned = this.returnedRule(fieldConfig.type);
    const known = [typeOwner?.rule, fieldOptions.authScopes]
      .filter((rule) => rule && typeof rule !== "function")
      .map((rule) => requirement(rule as Record<string, unknown>));
    // Already said when any scope the returned type accepts is among those the field requires.
    const scopesOf = (phrase: string) => phrase.match(/`[^`]+`/g) ?? [];
    const implied =
      returned && scopesOf(returned.needs).some((scope) => known.join(" ").includes(scope));
    const extra =
      returned && !implied ? ` The returned ${returned.name} also requires ${returned.needs}.` : "";
    return {
      ...fieldConfig,
      description: joinDescription(fieldConfig.description ?? undefined, `${sentence}${extra}`),
    };
  }

  /**
   * The static scope rule of the object a field returns (for a union, the rule all its members
   * share), when it asks for more than a caller: type rules apply to returned objects too.
   */
  private returnedRule(
    type: Parameters<BasePlugin<Types>["onOutputFieldConfig"]>[0]["type"],
  ): { name: string; needs: string } | null {
    let named = type;
    while (named.kind === "List") named = named.type;
    const ref = named.ref;
    const config = this.buildCache.getTypeConfig(ref as never);
    const ruleOf = (options: unknown) => (options as { authScopes?: unknown }).authScopes;
    let rules: unknown[];
    if (config.kind === "Object" || config.kind === "Interface") {
      rules = [ruleOf(config.pothosOptions)];
    } else if (config.kind === "Union") {
      rules = config.types.map((member) =>
        ruleOf(this.buildCache.getTypeConfig(member).pothosOptions),
      );
    } else {
      return null;
    }
    const needs = rules.map((rule) =>
      rule && typeof rule !== "function" ? requirement(rule as Record<string, unknown>) : null,
    );
    const first = needs[0];
    if (!first || needs.some((other) => other !== first)) return null;
    return { name: config.name, needs: first };
  }
}

const pluginName = "scopeDocs";
SchemaBuilder.registerPlugin(pluginName, ScopeDocsPlugin);
export default pluginName;
