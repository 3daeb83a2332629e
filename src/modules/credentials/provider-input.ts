// createCredential with a providerKey: the kind input completed from the provider's catalog
// entry, the connection variables parsed, and the form checked. Runs before the kind's own input
// rules, which then check the completed input (URLs against the outbound policy included).
import type { FieldError } from "../../lib/errors.js";
import {
  applyProvider,
  type ConnectionConfig,
  type KindInputKey,
  parseConnectionConfig,
} from "../catalog/apply.js";
import type { Catalog } from "../catalog/catalog.js";
import { kindDefinitions, kindInputKeys } from "./kinds/index.js";

const inputKeys: readonly KindInputKey[] = kindInputKeys;

export type ProviderInput = {
  /** The create input with the kind block completed from the entry. */
  input: Record<string, unknown>;
  connectionConfig: ConnectionConfig;
  /** Settings the entry adds to what the kind creates (OAUTH2: scope rules, response fields). */
  settings: Record<string, unknown>;
  errors: FieldError[];
};

export function providerInput(catalog: Catalog, input: Record<string, unknown>): ProviderInput {
  const key = typeof input.providerKey === "string" ? input.providerKey : null;
  const entry = catalog.get(key);
  const { config, errors } = parseConnectionConfig(input.connectionConfig, entry);
  const unchanged = { input, connectionConfig: config, settings: {}, errors };
  if (!entry) return unchanged;
  const given = inputKeys.filter((inputKey) => input[inputKey] != null);
  // Zero or several kind blocks are reported by the kind choice; nothing to complete then.
  if (given.length !== 1) return unchanged;
  const inputKey = given[0] as KindInputKey;
  const block = input[inputKey];
  if (typeof block !== "object" || block === null) return unchanged;
  const applied = applyProvider(entry, inputKey, block as Record<string, unknown>, config);
  const definition = Object.values(kindDefinitions).find((kind) => kind.inputKey === inputKey);
  const settings = definition?.providerSettings(entry) ?? {};
  return {
    input: { ...input, [inputKey]: applied.block },
    connectionConfig: config,
    settings,
    errors: [...errors, ...applied.errors],
  };
}
