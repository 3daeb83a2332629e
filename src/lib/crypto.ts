import {
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CompactEncrypt, decodeProtectedHeader } from "jose";

/** One entry of the key ring. `key` is exactly 32 raw bytes (AES-256). */
export interface EncryptionKey {
  readonly kid: string;
  readonly key: Uint8Array;
}

/** Where a secret lives. Bound into the ciphertext so it cannot be copied to another slot. */
export interface SecretBinding {
  workspaceId: string;
  credentialId: string;
  field: string;
}

/**
 * Thrown for every decryption failure. Messages are short fixed reasons: they never carry
 * plaintext, key material or the ciphertext, so they are safe to log and return.
 */
export class SecretDecryptionError extends Error {
  override name = "SecretDecryptionError";

  constructor(readonly reason: string) {
    super(`secret decryption failed: ${reason}`);
  }
}

const KEY_BYTES = 32;
const KID_PATTERN = /^[A-Za-z0-9_-]+$/;
const KID_MAX_LENGTH = 64;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const KEY_FILE_NAME = "encryption-keys";
const FINGERPRINT_INFO = "keyport secret fingerprint";

// dir + A256GCM: "<header>..<16-char IV>.<ciphertext>.<22-char tag>". Checked before jose sees the
// token because Node 20's atob ignores non-zero trailing bits, so otherwise a changed last
// character could still decrypt; this keeps ciphertexts non-malleable even at the string level.
const COMPACT_SHAPE =
  /^([A-Za-z0-9_-]+)\.\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{22})$/;
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const textEncoder = new TextEncoder();
// fatal: authenticated bytes we wrote are always valid UTF-8; anything else is not ours.
const textDecoder = new TextDecoder("utf-8", { fatal: true });

function describeKidProblem(kid: string): string | null {
  if (kid.length === 0) return "key id is empty";
  if (kid.length > KID_MAX_LENGTH) return `key id must be at most ${KID_MAX_LENGTH} characters`;
  if (!KID_PATTERN.test(kid)) return "key id may only contain A-Z, a-z, 0-9, _ and -";
  return null;
}

function isCanonicalBase64url(segment: string): boolean {
  const remainder = segment.length % 4;
  if (remainder === 0) return true;
  if (remainder === 1) return false;
  // The last character carries 4 (remainder 2) or 2 (remainder 3) unused bits; they must be zero.
  const last = BASE64URL_ALPHABET.indexOf(segment.charAt(segment.length - 1));
  return (last & (remainder === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * Parses `kid:base64url32bytes[,kid2:...]`. The first key encrypts; all keys decrypt.
 * Problems reference entries by position only, so key material never ends up in logs.
 */
export function parseEncryptionKeys(value: string): { keys: EncryptionKey[]; problems: string[] } {
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  if (value.trim() === "") {
    problems.push("ENCRYPTION_KEYS is empty; expected kid:base64url-key[,kid:base64url-key...]");
    return { keys, problems };
  }
  const seen = new Map<string, number>();
  value.split(",").forEach((rawEntry, index) => {
    const position = index + 1;
    const prefix = `ENCRYPTION_KEYS entry ${position}`;
    const entry = rawEntry.trim();
    if (entry === "") {
      problems.push(`${prefix}: is empty`);
      return;
    }
    const colon = entry.indexOf(":");
    if (colon === -1) {
      problems.push(`${prefix}: expected kid:base64url-key`);
      return;
    }
    const kid = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    const kidProblem = describeKidProblem(kid);
    if (kidProblem) {
      problems.push(`${prefix}: ${kidProblem}`);
    } else {
      const first = seen.get(kid);
      if (first !== undefined) {
        problems.push(`${prefix}: duplicate key id (same as entry ${first})`);
      } else {
        seen.set(kid, position);
      }
    }
    if (!BASE64URL_PATTERN.test(encoded)) {
      problems.push(
        `${prefix}: key must be 32 bytes of base64url (A-Z, a-z, 0-9, -, _; no padding), ` +
          "got characters outside that alphabet",
      );
      return;
    }
    const bytes = Buffer.from(encoded, "base64url");
    if (bytes.length !== KEY_BYTES) {
      problems.push(`${prefix}: key must be 32 bytes of base64url, got ${bytes.length}`);
      return;
    }
    if (bytes.toString("base64url") !== encoded) {
      problems.push(`${prefix}: key is not canonical base64url`);
      return;
    }
    if (!kidProblem) keys.push({ kid, key: new Uint8Array(bytes) });
  });
  return problems.length > 0 ? { keys: [], problems } : { keys, problems };
}

export function formatEncryptionKeys(keys: readonly EncryptionKey[]): string {
  return keys.map(({ kid, key }) => `${kid}:${Buffer.from(key).toString("base64url")}`).join(",");
}

export function generateEncryptionKey(kid: string): EncryptionKey {
  const problem = describeKidProblem(kid);
  if (problem) throw new TypeError(`generateEncryptionKey: ${problem}`);
  return { kid, key: new Uint8Array(randomBytes(KEY_BYTES)) };
}

function isErrnoException(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

async function readKeyFile(path: string): Promise<string> {
  // A concurrent creator may have opened the file (wx) but not written it yet: wait briefly.
  for (let attempt = 0; attempt < 50; attempt++) {
    const content = (await readFile(path, "utf8")).trim();
    if (content !== "") return content;
    await sleep(20);
  }
  throw new Error(`${path} is empty; delete it to generate a new key or fill it with keys`);
}

/**
 * Returns the key string stored in `<dataDir>/encryption-keys`, creating it (mode 0600) with a
 * fresh key on first start. `wx` makes creation exclusive so concurrent starts cannot overwrite
 * each other's key (which would make already-written secrets undecryptable).
 */
export async function loadOrCreateKeyFile(dataDir: string): Promise<string> {
  const path = join(dataDir, KEY_FILE_NAME);
  try {
    return await readKeyFile(path);
  } catch (error) {
    if (!isErrnoException(error, "ENOENT")) throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const kid = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`;
  const value = formatEncryptionKeys([generateEncryptionKey(kid)]);
  try {
    await writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    return value;
  } catch (error) {
    if (!isErrnoException(error, "EEXIST")) throw error;
    return readKeyFile(path);
  }
}

function assertBinding(binding: SecretBinding): void {
  for (const name of ["workspaceId", "credentialId", "field"] as const) {
    const value = binding[name];
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`secret binding ${name} must be a non-empty string`);
    }
  }
}

// Lone surrogates would silently become U+FFFD in UTF-8, corrupting the stored secret.
const LONE_SURROGATE = /\p{Surrogate}/u;

export class KeyRing {
  // Non-extractable CryptoKeys: measured ~30-60% faster with jose than passing raw bytes, which
  // jose re-imports on every call. Import is async, so the constructor stores the promises.
  readonly #keys = new Map<string, Promise<CryptoKey>>();
  // The same keys for node:crypto, which decrypts (the hot path) about seven times faster than
  // jose over WebCrypto; encryption stays with jose.
  readonly #decryptKeys = new Map<string, KeyObject>();
  readonly #activeKid: string;
  readonly #activeKey: Promise<CryptoKey>;
  readonly #fingerprintKey: KeyObject;

  constructor(keys: readonly EncryptionKey[]) {
    const active = keys[0];
    if (!active) throw new TypeError("KeyRing needs at least one key");
    for (const [index, { kid, key }] of keys.entries()) {
      const problem = describeKidProblem(kid);
      if (problem) throw new TypeError(`KeyRing key ${index + 1}: ${problem}`);
      if (this.#keys.has(kid)) throw new TypeError(`KeyRing key ${index + 1}: duplicate key id`);
      if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
        throw new TypeError(`KeyRing key ${index + 1}: key must be ${KEY_BYTES} bytes`);
      }
      const imported = crypto.subtle.importKey("raw", key.slice(), "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]);
      // Failures surface when the key is used; don't let them become unhandled rejections.
      imported.catch(() => {});
      this.#keys.set(kid, imported);
      this.#decryptKeys.set(kid, createSecretKey(Buffer.from(key)));
    }
    this.#activeKid = active.kid;
    this.#activeKey = this.#keys.get(active.kid) as Promise<CryptoKey>;
    // A separate derived key, so fingerprints reveal nothing usable against the encryption key.
    this.#fingerprintKey = createSecretKey(
      Buffer.from(hkdfSync("sha256", active.key, new Uint8Array(0), FINGERPRINT_INFO, 32)),
    );
  }

  get activeKid(): string {
    return this.#activeKid;
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** Every configured key id, the active one first. */
  get kids(): string[] {
    return [...this.#keys.keys()];
  }

  async encrypt(plaintext: string, binding: SecretBinding): Promise<string> {
    return this.#encryptWith(this.#activeKid, this.#activeKey, plaintext, binding);
  }

  /** Encrypts under a key that need not be the active one (start-up key check values). */
  async encryptWithKey(kid: string, plaintext: string, binding: SecretBinding): Promise<string> {
    const key = this.#keys.get(kid);
    if (!key) throw new TypeError("unknown key id");
    return this.#encryptWith(kid, key, plaintext, binding);
  }

  async #encryptWith(
    kid: string,
    cryptoKey: Promise<CryptoKey>,
    plaintext: string,
    binding: SecretBinding,
  ): Promise<string> {
    if (typeof plaintext !== "string") throw new TypeError("plaintext must be a string");
    if (LONE_SURROGATE.test(plaintext)) {
      throw new TypeError("plaintext contains unpaired surrogates and cannot be stored losslessly");
    }
    assertBinding(binding);
    const key = await cryptoKey;
    return new CompactEncrypt(textEncoder.encode(plaintext))
      .setProtectedHeader({
        alg: "dir",
        enc: "A256GCM",
        kid,
        ws: binding.workspaceId,
        cid: binding.credentialId,
        fld: binding.field,
      })
      .encrypt(key);
  }

  /**
   * Decrypts a compact JWE of exactly keyport's profile (RFC 7516 with `dir` and `A256GCM`: a
   * 96-bit IV, a 128-bit tag, the protected header as additional data) and checks its binding.
   * Anything else is refused before any decryption: other algorithms, compression, critical
   * header parameters, a missing or unknown key id.
   */
  async decrypt(jwe: string, binding: SecretBinding): Promise<string> {
    const shape = typeof jwe === "string" ? COMPACT_SHAPE.exec(jwe) : null;
    if (
      !shape ||
      ![shape[1], shape[3], shape[4]].every((part) => isCanonicalBase64url(part ?? ""))
    ) {
      throw new SecretDecryptionError("malformed ciphertext");
    }
    const [, encodedHeader = "", iv = "", ciphertext = "", tag = ""] = shape;
    let header: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(encodedHeader, "base64url").toString("utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      header = parsed as Record<string, unknown>;
    } catch {
      throw new SecretDecryptionError("unreadable header");
    }
    if (header.alg !== "dir" || header.enc !== "A256GCM") {
      throw new SecretDecryptionError("algorithm not allowed");
    }
    // Compression invites oracles and decompression bombs; keyport never compresses.
    if (header.zip !== undefined) throw new SecretDecryptionError("compressed ciphertext");
    if (header.crit !== undefined) throw new SecretDecryptionError("critical header parameter");
    if (typeof header.kid !== "string") throw new SecretDecryptionError("missing key id");
    const key = this.#decryptKeys.get(header.kid);
    if (!key) throw new SecretDecryptionError("unknown key id");
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), {
        authTagLength: 16,
      });
      decipher.setAAD(Buffer.from(encodedHeader, "ascii"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      plaintext = Buffer.concat([
        decipher.update(Buffer.from(ciphertext, "base64url")),
        decipher.final(),
      ]);
    } catch {
      throw new SecretDecryptionError("ciphertext rejected");
    }
    // The header is authenticated only now, so the binding check must come after decryption.
    if (
      header.ws !== binding.workspaceId ||
      header.cid !== binding.credentialId ||
      header.fld !== binding.field
    ) {
      throw new SecretDecryptionError("binding mismatch");
    }
    try {
      return textDecoder.decode(plaintext);
    } catch {
      throw new SecretDecryptionError("plaintext is not valid UTF-8");
    }
  }

  /** Key id of a ciphertext, read from its (not yet authenticated) protected header. */
  kidOf(jwe: string): string {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(jwe).kid;
    } catch {
      throw new SecretDecryptionError("unreadable header");
    }
    if (typeof kid !== "string" || kid === "") throw new SecretDecryptionError("missing key id");
    return kid;
  }

  /**
   * Re-encrypts under the active key, or returns null when the ciphertext already uses it.
   * The null path does not authenticate the ciphertext; decrypt() does that on read.
   */
  async rewrap(jwe: string, binding: SecretBinding): Promise<string | null> {
    if (this.kidOf(jwe) === this.#activeKid) return null;
    return this.encrypt(await this.decrypt(jwe, binding), binding);
  }

  /** Stable per-deployment fingerprint; store it at write time (it follows the active key). */
  fingerprint(plaintext: string): string {
    const mac = createHmac("sha256", this.#fingerprintKey).update(plaintext, "utf8").digest("hex");
    return `hmac-sha256:${mac.slice(0, 16)}`;
  }

  static preview(plaintext: string): string | null {
    // Code points, so a trailing emoji isn't split into half a surrogate pair.
    const chars = Array.from(plaintext);
    if (chars.length < 12) return null;
    return `••••${chars.slice(-4).join("")}`;
  }
}
