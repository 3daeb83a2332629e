import { defineConfig } from "vitest/config";

export default defineConfig({
  // Node resolves `graphql` to its CommonJS build for dependencies; make vite agree, or two
  // copies of graphql end up in one schema.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    // Browser tests run with `npm run test:e2e` (vitest.e2e.config.ts).
    exclude: ["**/node_modules/**", "test/e2e/**"],
    // Each file opens its own database (in-memory PGlite, or a fresh PostgreSQL database).
    pool: "forks",
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
