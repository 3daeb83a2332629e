// A small structured logger. Log lines carry ids, codes and counts, never secret values: callers
// pass only fields they chose, and error objects are reduced to name and message.
import type { LogLevel } from "../env.js";

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

const stdoutSink: LogSink = (line) => process.stdout.write(`${line}\n`);

/**
 * Database errors embed what they were called with (Prisma prints the whole invocation: values,
 * ciphertexts, URLs), so they are reduced to class, code and model; a wrapper whose original
 * error or cause is one (GraphQL's located errors copy its message) is reduced the same way.
 */
export function describeError(error: unknown): LogFields {
  const database = databaseErrorIn(error);
  if (database) return database;
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { message: String(error) };
}

function databaseErrorIn(error: unknown): LogFields | null {
  let current: unknown = error;
  for (let hops = 0; hops < 5 && current instanceof Error; hops++) {
    if (isDatabaseError(current)) {
      const fields = current as Error & {
        code?: unknown;
        meta?: { modelName?: unknown; driverAdapterError?: unknown };
        cause?: { kind?: unknown; code?: unknown };
      };
      const described: LogFields = {
        name: current.name,
        message: "database error (details withheld)",
      };
      if (typeof fields.code === "string") described.code = fields.code;
      if (typeof fields.meta?.modelName === "string") described.model = fields.meta.modelName;
      if (typeof fields.cause?.kind === "string") described.kind = fields.cause.kind;
      if (typeof fields.cause?.code === "string") described.sqlState = fields.cause.code;
      if (current !== error && error instanceof Error) described.via = error.name;
      return described;
    }
    const next = current as { originalError?: unknown; cause?: unknown };
    current = next.originalError ?? next.cause;
  }
  return null;
}

function isDatabaseError(error: Error): boolean {
  return (
    error.name.startsWith("PrismaClient") ||
    error.name === "DriverAdapterError" ||
    "clientVersion" in error ||
    // node-postgres and PGlite: a SQLSTATE plus a severity
    ("severity" in error && typeof (error as { code?: unknown }).code === "string")
  );
}

export function createLogger(level: LogLevel, sink: LogSink = stdoutSink): Logger {
  const write = (at: LogLevel, message: string, fields?: LogFields) => {
    if (rank[at] < rank[level]) return;
    const entry: LogFields = { time: new Date().toISOString(), level: at, msg: message };
    for (const [key, value] of Object.entries(fields ?? {})) {
      entry[key] = value instanceof Error ? describeError(value) : value;
    }
    sink(JSON.stringify(entry));
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}
