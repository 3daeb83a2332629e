// Child processes for the benchmark: servers and the load generator. Each one runs in its own
// process group (tsx starts the real node process as a grandchild), so stopping a child means
// stopping the whole group, and every wait is bounded.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";

export const host = "127.0.0.1";

/** A free TCP port on 127.0.0.1: listen on port 0, note what the kernel gave, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

export type Child = {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last few kilobytes of stdout and stderr, for error messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  exited: Promise<number | string>;
  hasExited(): boolean;
  /** All of stdout, when started with keepStdout (the load generator's result). */
  stdout(): string;
};

const live = new Set<Child>();
const outputLimit = 16_384;

export function startChild(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; keepStdout?: boolean },
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    // A process group of its own: tsx's node grandchild and esbuild go with it on stop().
    detached: true,
    // stdin stays open as a lifeline: our own children exit when it closes.
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let tail = "";
  let stdout = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-outputLimit);
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    keep(chunk);
    if (options.keepStdout) stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", keep);
  child.stdin?.on("error", () => {});
  let exited = false;
  const exitedPromise = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      live.delete(handle);
      resolve(code ?? signal ?? "unknown");
    });
    child.once("error", (error) => {
      exited = true;
      live.delete(handle);
      tail += `\n${error.message}`;
      resolve("spawn error");
    });
  });
  const handle: Child = {
    name,
    pid: child.pid,
    process: child,
    output: () => tail.trim(),
    stdout: () => stdout,
    exited: exitedPromise,
    hasExited: () => exited,
  };
  live.add(handle);
  return handle;
}

/** Asks the child to stop (SIGTERM), then kills its whole process group if it does not. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (!child.hasExited()) {
    signal(child.pid, "SIGTERM");
    child.process.stdin?.end();
    await Promise.race([child.exited, sleep(graceMs)]);
  }
  // Whatever is left in the group (the tsx grandchild, esbuild) goes too.
  signalGroup(child.pid, "SIGKILL");
  if (!child.hasExited()) await Promise.race([child.exited, sleep(5_000)]);
}

/** Last resort on exit: synchronous, no waiting. */
export function killAllChildrenNow(): void {
  for (const child of live) signalGroup(child.pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function signalGroup(pid: number, name: NodeJS.Signals) {
  try {
    process.kill(-pid, name);
  } catch {
    // the group is already empty
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the promise's value, or rejects after `ms` with a message naming the wait. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `url` until it answers 200, the child exits, or `timeoutMs` passes. */
export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child.hasExited()) {
      throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(
    `${child.name} not ready at ${url} after ${timeoutMs / 1000} s (${last}):\n${child.output()}`,
  );
}

/** Runs a command to completion (bounded), failing with its output when it fails. */
export async function runToCompletion(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number },
): Promise<Child> {
  const child = startChild(name, command, args, options);
  child.process.stdin?.end();
  const code = await Promise.race([child.exited, sleep(options.timeoutMs).then(() => "timeout")]);
  if (code === "timeout") {
    await stopChild(child, 1_000);
    throw new Error(
      `${name} did not finish within ${options.timeoutMs / 1000} s:\n${child.output()}`,
    );
  }
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${child.output()}`);
  return child;
}

// Peak RSS (Linux only). tsx runs the script in a node grandchild, so the process that matters is
// the deepest one in the group whose command line names the script.

/** The pid running `script` under `rootPid`, or rootPid when /proc cannot tell. */
export function scriptPid(rootPid: number, script: string): number {
  let found = rootPid;
  try {
    const parents = new Map<number, number[]>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const siblings = parents.get(ppid) ?? [];
        siblings.push(Number(entry));
        parents.set(ppid, siblings);
      } catch {
        // the process ended while we looked
      }
    }
    const queue = [rootPid];
    while (queue.length > 0) {
      const pid = queue.shift() as number;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmdline.some((arg) => arg.endsWith(script))) found = pid;
      queue.push(...(parents.get(pid) ?? []));
    }
  } catch {
    // not Linux, or the process is gone
  }
  return found;
}

/** VmHWM (peak resident set) in MB, or null when /proc does not have it. */
export function peakRssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS so the next reading is this scenario's peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
