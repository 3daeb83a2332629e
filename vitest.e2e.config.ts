import { defineConfig } from "vitest/config";

// End-to-end tests in headless Chromium (`npm run test:e2e`); `npm test` never starts a browser.
export default defineConfig({
  // As in vitest.config.ts: one copy of graphql.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/e2e/**/*.test.ts"],
    pool: "forks",
    // One browser at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
