// Prisma CLI configuration. Every CLI call (generate included) loads this file, which selects the
// WebAssembly schema engine and a driver adapter: PGlite in DATA_DIR by default, PostgreSQL when
// DATABASE_URL is set.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { defineConfig } from "prisma/config";

const databaseUrl = process.env.DATABASE_URL;
// Prisma 6 needs the datasource block's `url` to read the schema (without one, or with a value
// that is not a PostgreSQL URL, the CLI falls back to downloading query engines keyport never
// uses). It is a placeholder: the adapter below decides where migrations go, and the app always
// connects through a driver adapter. So `npm run build` works whatever DATABASE_URL holds.
process.env.DATABASE_URL = "postgresql://placeholder/keyport";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    if (databaseUrl) {
      // adapter-pg 7 reads the `name` columns Prisma's migration engine asks for (prisma/orm#27403).
      const { PrismaPg } = await import("@prisma/adapter-pg-migrate");
      return new PrismaPg({ connectionString: databaseUrl });
    }
    const { PGlite } = await import("@electric-sql/pglite");
    const { PrismaPGlite } = await import("pglite-prisma-adapter");
    const dataDir = path.resolve(process.env.DATA_DIR ?? ".data", "pglite");
    mkdirSync(dataDir, { recursive: true });
    return new PrismaPGlite(new PGlite(dataDir));
  },
});
