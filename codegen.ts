import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for the integration tests, generated from the committed schema.graphql.
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["test/**/*.ts", "!test/generated/**"],
  ignoreNoDocuments: true,
  generates: {
    "test/generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: "string", URL: "string", JSON: "unknown" },
      },
    },
  },
};

export default config;
