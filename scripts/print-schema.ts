// Prints the Pothos schema (sorted) to schema.graphql; test/unit/schema.test.ts fails on drift.
import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/schema/index.js";

writeFileSync(new URL("../schema.graphql", import.meta.url), `${printSchema(schema)}\n`);
