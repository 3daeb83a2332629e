// Runs before `npm start` and `npm run db:migrate` (plain JavaScript: it must run before anything
// is compiled). With the devDependencies installed (a development checkout), it builds when the
// build is missing or older than the sources, so `npm ci && npm start` works for a newcomer. With
// runtime dependencies only (production, after `npm prune --omit=dev`), it never builds: a
// missing build is an error that says what to run.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const stamp = path.join(root, "dist", ".built");
// tsx is a dev dependency only; typescript and prisma can survive `npm prune --omit=dev` (optional
// peers of @prisma/client), so they alone do not mean a development checkout.
const canBuild = ["typescript", "prisma", "tsx"].every((name) =>
  existsSync(path.join(root, "node_modules", name, "package.json")),
);

function newestMtime(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(entry)) {
    if (name === "generated") continue; // written by the build itself
    newest = Math.max(newest, newestMtime(path.join(entry, name)));
  }
  return newest;
}

const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (!canBuild) {
  if (builtAt === 0) {
    process.stderr.write(
      "keyport is not built: run `npm run build` with the devDependencies installed (npm ci), then start it\n",
    );
    process.exit(1);
  }
  process.exit(0);
}
const sources = ["src", "scripts", "prisma/schema.prisma", "tsconfig.json", "tsconfig.build.json"];
const newest = Math.max(...sources.map((entry) => newestMtime(path.join(root, entry))));
if (newest > builtAt) {
  process.stderr.write(
    builtAt === 0 ? "building keyport (npm run build)\n" : "sources changed: rebuilding keyport\n",
  );
  const result = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  process.exit(result.status ?? 1);
}
