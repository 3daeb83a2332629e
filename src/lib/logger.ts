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

function describeError(error: unknown): LogFields {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { message: String(error) };
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
