// The catalog queries: the providers a credential can be created for, and one by key.
import { builder } from "../../builder.js";
import { ProviderRef } from "../catalog/catalog.refs.js";
import { CredentialKindEnum } from "../credentials/credentials.types.js";
import { catalogRead } from "./providers.types.js";

const ProvidersFilter = builder.inputType("ProvidersFilter", {
  description: "Narrows the catalog; every given condition must hold.",
  fields: (t) => ({
    authKind: t.field({
      type: CredentialKindEnum,
      description: "Only providers that take this credential kind.",
    }),
    category: t.string({ description: "Only providers in this category." }),
    search: t.string({ description: "Matches key or name, case-insensitively." }),
  }),
});

builder.queryField("providers", (t) =>
  t.field({
    type: [ProviderRef],
    authScopes: catalogRead,
    description:
      "The provider catalog, by key: what each provider needs to build a credential form.",
    args: {
      filter: t.arg({ type: ProvidersFilter, description: "Conditions on the providers listed." }),
    },
    resolve: (_root, { filter }, context) => {
      const search = filter?.search?.trim().toLowerCase();
      return context.services.catalog
        .list()
        .filter(
          (entry) =>
            (!filter?.authKind || entry.auth.some((method) => method.kind === filter.authKind)) &&
            (!filter?.category || entry.categories.includes(filter.category)) &&
            (!search || entry.key.includes(search) || entry.name.toLowerCase().includes(search)),
        );
    },
  }),
);

builder.queryField("provider", (t) =>
  t.field({
    type: ProviderRef,
    nullable: true,
    authScopes: catalogRead,
    description: "One provider by key; null when the catalog has no such provider.",
    args: { key: t.arg.string({ required: true, description: "The provider's key, e.g. slack." }) },
    resolve: (_root, { key }, context) => context.services.catalog.get(key),
  }),
);
