// Writes a new migration from the difference between the schema at the last commit and
// prisma/schema.prisma. (`prisma migrate dev` needs a shadow database, which the driver
// adapters cannot provide for an existing migration history; a datamodel-to-datamodel diff
// needs no database at all.)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write("usage: npm run db:migration -- <name_in_snake_case>\n");
  process.exit(2);
}
const base = process.argv[3] ?? "HEAD";
const tmp = mkdtempSync(path.join(os.tmpdir(), "keyport-migration-"));
try {
  const previous = path.join(tmp, "previous.prisma");
  writeFileSync(previous, execFileSync("git", ["show", `${base}:prisma/schema.prisma`]));
  const sql = execFileSync(
    "npx",
    [
      "prisma",
      "migrate",
      "diff",
      "--from-schema-datamodel",
      previous,
      "--to-schema-datamodel",
      "prisma/schema.prisma",
      "--script",
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (!/\b(CREATE|ALTER|DROP)\b/.test(sql)) {
    process.stdout.write(`prisma/schema.prisma has no changes since ${base}\n`);
    process.exit(0);
  }
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  const dir = path.join("prisma", "migrations", `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "migration.sql"), sql);
  process.stdout.write(`wrote ${dir}/migration.sql\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
