import { fileURLToPath } from "node:url";
import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for the credential screen, generated from keyport's committed schema.graphql
// into src/gql/ (not committed). Run from the repository root: npm run example:generate.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const config: CodegenConfig = {
  schema: here("../../schema.graphql"),
  documents: [here("src/**/*.{ts,tsx}"), `!${here("src/gql/**")}`],
  ignoreNoDocuments: false,
  generates: {
    [here("src/gql/")]: {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents as strings: the app sends them as they are, with no GraphQL runtime.
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", URL: "string", JSON: "unknown" },
      },
    },
  },
};

export default config;
