// Services dispatch to the credential kind (src/modules/credentials/kinds): what differs between
// BASIC, BEARER, OAUTH2 and CLIENT_CREDENTIALS is said once, in the kind's definition, never by a
// comparison of a credential's kind somewhere else.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const modulesRoot = resolve(import.meta.dirname, "../../src/modules");
const kindsFolder = ["credentials", "kinds"].join(sep);

/**
 * The catalog's auth methods (`method.kind`) are a union of the catalog's own entry shapes, one
 * per kind: reading an entry's fields means narrowing that union. The catalog sits below the
 * credentials module (credentials import it, never the other way round), so these stay where the
 * entries are parsed and shown.
 */
const allowed = [
  { folder: "catalog", discriminant: "method.kind" },
  { folder: "providers", discriminant: "method.kind" },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const kindName = `["'](?:BASIC|BEARER|OAUTH2|CLIENT_CREDENTIALS)["']`;
const comparison = new RegExp(
  `([\\w$.?]*\\bkind)\\s*[!=]==?\\s*${kindName}|${kindName}\\s*[!=]==?\\s*([\\w$.?]*\\bkind)\\b`,
  "g",
);
const caseLabel = new RegExp(`\\bcase\\s+${kindName}\\s*:`);
const listed = new RegExp(`\\[[^\\]]*${kindName}[^\\]]*\\]\\s*\\.includes\\(\\s*([\\w$.?]+)`, "g");
// A database filter on kinds: `kind: { in: ["BASIC", ...] }`.
const filtered = new RegExp(
  `\\b(kind)\\s*:\\s*\\{\\s*(?:not)?[iI]n\\s*:\\s*\\[[^\\]]*${kindName}`,
  "g",
);
// The kind's input field (`basic`, `bearer`, ...) stands for the kind just the same.
const inputKeyComparison =
  /\b([\w$.?]*inputKey)\s*[!=]==?\s*["'](?:basic|bearer|oauth2|clientCredentials)["']/g;
const switchHead = /\bswitch\s*\(\s*([^)]+?)\s*\)/;

/** Blanks out comments, keeping line numbers. */
function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

type Finding = { line: number; discriminant: string; text: string };

/** Every comparison of a kind against a credential-kind name, with what is compared. */
function kindComparisons(source: string): Finding[] {
  const findings: Finding[] = [];
  let currentSwitch = "";
  withoutComments(source)
    .split("\n")
    .forEach((text, index) => {
      const head = switchHead.exec(text);
      if (head?.[1]) currentSwitch = head[1];
      const line = index + 1;
      for (const match of text.matchAll(comparison)) {
        findings.push({ line, discriminant: match[1] ?? match[2] ?? "", text: text.trim() });
      }
      for (const match of [...text.matchAll(filtered), ...text.matchAll(inputKeyComparison)]) {
        findings.push({ line, discriminant: match[1] ?? "", text: text.trim() });
      }
      for (const match of text.matchAll(listed)) {
        findings.push({ line, discriminant: match[1] ?? "", text: text.trim() });
      }
      if (caseLabel.test(text)) {
        findings.push({ line, discriminant: currentSwitch, text: text.trim() });
      }
    });
  return findings;
}

describe("kind dispatch", () => {
  it("finds comparisons, case labels and lists of credential kinds", () => {
    const sample = [
      'if (row.kind === "OAUTH2") a();',
      'if ("BASIC" !== credential.kind) b();',
      'const s = ["BASIC", "BEARER"].includes(row.kind);',
      "switch (credential.kind) {",
      '  case "CLIENT_CREDENTIALS":',
      "}",
      '// row.kind === "BEARER" in a comment',
      'if (error.kind === "timeout") c();',
      'where: { kind: { in: ["BASIC", "BEARER"] } },',
      'const extra = inputKey === "oauth2" ? more : {};',
    ].join("\n");
    expect(kindComparisons(sample).map(({ line, discriminant }) => [line, discriminant])).toEqual([
      [1, "row.kind"],
      [2, "credential.kind"],
      [3, "row.kind"],
      [5, "credential.kind"],
      [9, "kind"],
      [10, "inputKey"],
    ]);
  });

  it("has no credential-kind comparison in src/modules outside credentials/kinds", () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(modulesRoot)) {
      const rel = relative(modulesRoot, file);
      if (rel.startsWith(`${kindsFolder}${sep}`)) continue;
      const folder = rel.split(sep)[0];
      for (const finding of kindComparisons(readFileSync(file, "utf8"))) {
        const exempt = allowed.some(
          (rule) => rule.folder === folder && rule.discriminant === finding.discriminant,
        );
        if (!exempt) offenders.push(`src/modules/${rel}:${finding.line}: ${finding.text}`);
      }
    }
    expect(offenders, "dispatch through kindDefinitions instead").toEqual([]);
  });
});
