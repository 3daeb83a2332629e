// The GraphQL reference of a catalog entry, declared here so that credentials can name their
// provider; the providers module implements its fields.
import { builder } from "../../builder.js";
import type { ProviderEntry } from "./catalog.js";

export const ProviderRef = builder.objectRef<ProviderEntry>("Provider");
