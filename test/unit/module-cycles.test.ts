// The folders under src/modules depend on each other in one direction only: a cycle between two
// folders means neither can be understood, tested or changed without the other.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const modulesRoot = resolve(import.meta.dirname, "../../src/modules");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

// Static imports and re-exports (`import ... from "x"`, `export ... from "x"`, `import "x"`)
// and dynamic `import("x")`; type-only imports count too, they couple the folders just the same.
const specifierPattern =
  /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function importSpecifiers(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...withoutComments.matchAll(specifierPattern)].map((match) => match[1] ?? match[2] ?? "");
}

function folderOf(file: string): string | null {
  const rel = relative(modulesRoot, file);
  if (rel.startsWith("..") || rel === "") return null;
  const [first, ...rest] = rel.split(sep);
  return rest.length > 0 && first ? first : null;
}

/** Edges between module folders, each with one file that makes it (for the failure message). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(modulesRoot)) {
    const from = folderOf(file);
    if (!from) continue;
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const specifier of importSpecifiers(readFileSync(file, "utf8"))) {
      if (!specifier.startsWith(".")) continue;
      const to = folderOf(resolve(dirname(file), specifier));
      if (to && to !== from && !edges.has(to)) {
        edges.set(to, `${relative(modulesRoot, file)} imports ${specifier}`);
      }
    }
  }
  return graph;
}

/** Every strongly connected group of two or more folders (Tarjan), as a readable cycle. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, indices.get(next) ?? 0));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const group: string[] = [];
      for (;;) {
        const member = stack.pop() as string;
        onStack.delete(member);
        group.push(member);
        if (member === node) break;
      }
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return groups;
}

describe("module folders", () => {
  it("reads import specifiers of every form", () => {
    const source = [
      'import { a } from "../x/a.js";',
      'import type { B } from "../y/b.js";',
      'export { c } from "../z/c.js";',
      'import "../w/side-effect.js";',
      'const lazy = await import("../v/lazy.js");',
      '// import { no } from "../commented/out.js";',
      "import {\n  multi,\n  line,\n} from '../u/multi.js';",
    ].join("\n");
    expect(importSpecifiers(source)).toEqual([
      "../x/a.js",
      "../y/b.js",
      "../z/c.js",
      "../w/side-effect.js",
      "../v/lazy.js",
      "../u/multi.js",
    ]);
  });

  it("finds a cycle when there is one", () => {
    const graph = new Map([
      ["a", new Map([["b", "a/x.ts imports ../b/y.js"]])],
      ["b", new Map([["a", "b/y.ts imports ../a/x.js"]])],
      ["c", new Map([["a", "c/z.ts imports ../a/x.js"]])],
    ]);
    expect(cycles(graph)).toEqual([["a", "b"]]);
  });

  it("depend on each other in one direction only", () => {
    const graph = folderGraph();
    expect(graph.size).toBeGreaterThan(3);
    const found = cycles(graph).map((group) => {
      const members = new Set(group);
      const edges = group.flatMap((from) =>
        [...(graph.get(from) ?? new Map<string, string>()).entries()]
          .filter(([to]) => members.has(to))
          .map(([to, why]) => `  ${from} -> ${to} (${why})`),
      );
      return `cycle between ${group.join(", ")}:\n${edges.join("\n")}`;
    });
    expect(found, found.join("\n")).toEqual([]);
  });
});
