// One process per embedded data folder. PGlite keeps the whole database in one process's memory
// and writes it back to DATA_DIR; a second process on the same folder works on its own copy and
// one of them loses its writes. A lock file in DATA_DIR (pid and start time) keeps the second
// one out; a lock whose process is gone is taken over.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

export const lockFileName = "keyport.lock";

type LockInfo = { pid: number; startedAt: string; command: string };

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by another keyport process (pid ${holder.pid}, ${holder.command}, since ${holder.startedAt}); stop it first, or set DATA_DIR to another folder`,
    );
    this.name = "DataDirLockedError";
  }
}

export type DataDirLock = {
  readonly file: string;
  release(): void;
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, "utf8")) as Partial<LockInfo>;
    if (typeof info.pid !== "number" || !Number.isInteger(info.pid) || info.pid <= 0) return null;
    return {
      pid: info.pid,
      startedAt: String(info.startedAt ?? "unknown"),
      command: String(info.command ?? "keyport"),
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw error;
    return null; // unreadable or half-written: treated as stale
  }
}

/**
 * Takes DATA_DIR's lock for this process, or throws DataDirLockedError naming the live holder.
 * `command` says what holds it ("server", "keys:rewrap", ...). Released by `release()` and, as a
 * last resort, when the process exits.
 */
export function acquireDataDirLock(dataDir: string, command: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, lockFileName);
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(mine)}\n`, { flag: "wx", mode: 0o600 });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        try {
          if (readLock(file)?.pid === process.pid) unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.on("exit", release);
      return { file, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder: LockInfo | null;
    try {
      holder = readLock(file);
    } catch {
      continue; // removed meanwhile: try again
    }
    if (holder && holder.pid !== process.pid && alive(holder.pid)) {
      throw new DataDirLockedError(dataDir, holder);
    }
    // Stale (its process is gone) or unreadable: take it over.
    try {
      unlinkSync(file);
    } catch {
      // someone else removed it first
    }
  }
  throw new Error(`could not take the lock ${file}`);
}

/** The live process holding DATA_DIR's lock, if any (without taking it). */
export function dataDirLockHolder(dataDir: string): LockInfo | null {
  try {
    const holder = readLock(path.join(dataDir, lockFileName));
    return holder && alive(holder.pid) ? holder : null;
  } catch {
    return null;
  }
}
