import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactEncrypt, type CompactJWEHeaderParameters, compactDecrypt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import {
  type EncryptionKey,
  formatEncryptionKeys,
  generateEncryptionKey,
  KeyRing,
  loadOrCreateKeyFile,
  parseEncryptionKeys,
  type SecretBinding,
  SecretDecryptionError,
} from "../../src/lib/crypto.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const binding: SecretBinding = { workspaceId: "ws_1", credentialId: "cred_1", field: "apiKey" };
const plaintext = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const k1 = generateEncryptionKey("k1");
const k2 = generateEncryptionKey("k2");
const b64 = (key: EncryptionKey) => Buffer.from(key.key).toString("base64url");

async function rejection(promise: Promise<unknown>): Promise<SecretDecryptionError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SecretDecryptionError);
  return caught as SecretDecryptionError;
}

function replaceSegment(jwe: string, index: number, segment: string): string {
  const parts = jwe.split(".");
  parts[index] = segment;
  return parts.join(".");
}

/** Every single-character substitution of one compact segment. */
function characterFlips(jwe: string, index: number): string[] {
  const segment = jwe.split(".")[index] ?? "";
  return Array.from(segment, (char, position) => {
    const other = ALPHABET[(ALPHABET.indexOf(char) + 1) % ALPHABET.length];
    return replaceSegment(
      jwe,
      index,
      segment.slice(0, position) + other + segment.slice(position + 1),
    );
  });
}

/** Flips one bit in the decoded bytes of a segment at the first, middle and last byte. */
function byteFlips(jwe: string, index: number): string[] {
  const bytes = Buffer.from(jwe.split(".")[index] ?? "", "base64url");
  return [0, bytes.length >> 1, bytes.length - 1].map((position) => {
    const copy = Buffer.from(bytes);
    copy[position] = (copy[position] ?? 0) ^ 0x01;
    return replaceSegment(jwe, index, copy.toString("base64url"));
  });
}

describe("KeyRing encrypt/decrypt", () => {
  const ring = new KeyRing([k1]);

  it("round-trips, including empty and non-ASCII plaintexts", async () => {
    for (const value of [plaintext, "", "pässwörd 🔑 秘密"]) {
      expect(await ring.decrypt(await ring.encrypt(value, binding), binding)).toBe(value);
    }
  });

  it("produces dir/A256GCM compact JWEs with a fresh 12-byte IV and a 16-byte tag", async () => {
    const a = await ring.encrypt(plaintext, binding);
    const b = await ring.encrypt(plaintext, binding);
    expect(a).not.toBe(b);
    const [header, encryptedKey, iv, ciphertext, tag] = a.split(".");
    expect(a.split(".")).toHaveLength(5);
    expect(JSON.parse(Buffer.from(header ?? "", "base64url").toString("utf8"))).toEqual({
      alg: "dir",
      enc: "A256GCM",
      kid: "k1",
      ws: "ws_1",
      cid: "cred_1",
      fld: "apiKey",
    });
    expect(encryptedKey).toBe("");
    expect(Buffer.from(iv ?? "", "base64url")).toHaveLength(12);
    expect(Buffer.from(tag ?? "", "base64url")).toHaveLength(16);
    expect(Buffer.from(ciphertext ?? "", "base64url")).toHaveLength(Buffer.byteLength(plaintext));
    expect(b.split(".")[2]).not.toBe(iv);
    expect(a).not.toContain(Buffer.from(plaintext).toString("base64url").slice(0, 8));
  });

  it("rejects any single-character change in each of the five segments", async () => {
    const jwe = await ring.encrypt(plaintext, binding);
    const tampered = [0, 2, 3, 4].flatMap((index) => characterFlips(jwe, index));
    // The dir encrypted-key segment is empty, so "changing" it means giving it content.
    tampered.push(
      ...["A", "AA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA"].map((s) => replaceSegment(jwe, 1, s)),
    );
    expect(tampered.length).toBeGreaterThan(150);
    for (const candidate of tampered) {
      expect(candidate).not.toBe(jwe);
      await rejection(ring.decrypt(candidate, binding));
    }
  });

  it("rejects single-bit flips in the decoded bytes of header, IV, ciphertext and tag", async () => {
    const jwe = await ring.encrypt(plaintext, binding);
    for (const index of [0, 2, 3, 4]) {
      for (const candidate of byteFlips(jwe, index)) {
        expect(candidate).not.toBe(jwe);
        await rejection(ring.decrypt(candidate, binding));
      }
    }
  });

  it("rejects structurally broken input", async () => {
    const jwe = await ring.encrypt(plaintext, binding);
    for (const candidate of [
      "",
      "abc",
      `${jwe}.`,
      jwe.replaceAll(".", ""),
      ` ${jwe}`,
      `${jwe}\n`,
    ]) {
      expect((await rejection(ring.decrypt(candidate, binding))).reason).toBe(
        "malformed ciphertext",
      );
    }
  });

  it("binds the ciphertext to workspace, credential and field", async () => {
    const jwe = await ring.encrypt(plaintext, binding);
    for (const other of [
      { ...binding, workspaceId: "ws_2" },
      { ...binding, credentialId: "cred_2" },
      { ...binding, field: "apiSecret" },
      { ...binding, field: "apikey" },
    ]) {
      expect((await rejection(ring.decrypt(jwe, other))).reason).toBe("binding mismatch");
    }
  });

  it("refuses to encrypt with an incomplete binding or lossy plaintext", async () => {
    await expect(ring.encrypt(plaintext, { ...binding, field: "" })).rejects.toThrow(TypeError);
    await expect(ring.encrypt("abc\uD800def", binding)).rejects.toThrow(TypeError);
  });
});

describe("KeyRing rejects JWEs that differ from its profile", () => {
  const ring = new KeyRing([k1]);
  const header = { kid: "k1", ws: "ws_1", cid: "cred_1", fld: "apiKey" };
  const build = (protectedHeader: CompactJWEHeaderParameters, key: Uint8Array) =>
    new CompactEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader(protectedHeader)
      .encrypt(key);
  // Each token is valid for jose itself, so a rejection is the ring's policy, not a broken token.
  const joseAccepts = async (jwe: string, key: Uint8Array) =>
    new TextDecoder().decode((await compactDecrypt(jwe, key)).plaintext);

  it("accepts a jose-built JWE matching the profile (control)", async () => {
    const jwe = await build({ alg: "dir", enc: "A256GCM", ...header }, k1.key);
    expect(await ring.decrypt(jwe, binding)).toBe(plaintext);
  });

  it("rejects alg A256GCMKW", async () => {
    const jwe = await build({ alg: "A256GCMKW", enc: "A256GCM", ...header }, k1.key);
    expect(await joseAccepts(jwe, k1.key)).toBe(plaintext);
    await rejection(ring.decrypt(jwe, binding));
  });

  it("rejects enc A128GCM", async () => {
    // A128GCM with dir needs a 16-byte key: use the first half of the same key bytes.
    const jwe = await build({ alg: "dir", enc: "A128GCM", ...header }, k1.key.slice(0, 16));
    expect(await joseAccepts(jwe, k1.key.slice(0, 16))).toBe(plaintext);
    // Refused by the enc allowlist, before the (also failing) key-length check is reached.
    expect((await rejection(ring.decrypt(jwe, binding))).reason).toBe("algorithm not allowed");
  });

  it("rejects zip DEF before decrypting", async () => {
    const jwe = await build({ alg: "dir", enc: "A256GCM", zip: "DEF", ...header }, k1.key);
    expect(await joseAccepts(jwe, k1.key)).toBe(plaintext);
    expect((await rejection(ring.decrypt(jwe, binding))).reason).toBe("compressed ciphertext");
  });

  it("rejects critical header parameters, and decrypts a JWE built by hand to the RFC", async () => {
    // RFC 7516 compact serialisation, dir + A256GCM, built with node:crypto instead of jose.
    const handBuilt = (protectedHeader: Record<string, unknown>) => {
      const encodedHeader = Buffer.from(JSON.stringify(protectedHeader)).toString("base64url");
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", Buffer.from(k1.key), iv);
      cipher.setAAD(Buffer.from(encodedHeader, "ascii"));
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return [encodedHeader, "", iv, ciphertext, cipher.getAuthTag()]
        .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
        .join(".");
    };
    expect(await ring.decrypt(handBuilt({ alg: "dir", enc: "A256GCM", ...header }), binding)).toBe(
      plaintext,
    );
    const critical = handBuilt({ alg: "dir", enc: "A256GCM", crit: ["exp"], exp: 1, ...header });
    expect((await rejection(ring.decrypt(critical, binding))).reason).toBe(
      "critical header parameter",
    );
  });

  it("rejects a missing kid", async () => {
    const { kid: _kid, ...withoutKid } = header;
    const jwe = await build({ alg: "dir", enc: "A256GCM", ...withoutKid }, k1.key);
    expect((await rejection(ring.decrypt(jwe, binding))).reason).toBe("missing key id");
    expect(() => ring.kidOf(jwe)).toThrow(SecretDecryptionError);
  });
});

describe("key rotation", () => {
  it("rejects an unknown kid", async () => {
    const jwe = await new KeyRing([k1]).encrypt(plaintext, binding);
    const onlyK2 = new KeyRing([k2]);
    expect(onlyK2.has("k1")).toBe(false);
    expect((await rejection(onlyK2.decrypt(jwe, binding))).reason).toBe("unknown key id");
  });

  it("decrypts old ciphertexts with a rotated ring and rewraps them under the active key", async () => {
    const oldRing = new KeyRing([k1]);
    const rotated = new KeyRing([k2, k1]);
    expect(rotated.activeKid).toBe("k2");
    expect(rotated.has("k1") && rotated.has("k2")).toBe(true);

    const old = await oldRing.encrypt(plaintext, binding);
    expect(oldRing.kidOf(old)).toBe("k1");
    expect(await rotated.decrypt(old, binding)).toBe(plaintext);
    expect(await oldRing.rewrap(old, binding)).toBeNull();

    const rewrapped = await rotated.rewrap(old, binding);
    expect(rewrapped).not.toBeNull();
    expect(rotated.kidOf(rewrapped ?? "")).toBe("k2");
    expect(await rotated.rewrap(rewrapped ?? "", binding)).toBeNull();
    expect(await new KeyRing([k2]).decrypt(rewrapped ?? "", binding)).toBe(plaintext);
    // Rewrapping keeps the binding.
    await rejection(rotated.decrypt(rewrapped ?? "", { ...binding, field: "other" }));
  });

  it("rewrap refuses to re-encrypt a ciphertext it cannot authenticate", async () => {
    const old = await new KeyRing([k1]).encrypt(plaintext, binding);
    const rotated = new KeyRing([k2, k1]);
    await rejection(rotated.rewrap(old, { ...binding, workspaceId: "ws_2" }));
    await rejection(rotated.rewrap(characterFlips(old, 4)[0] ?? "", binding));
  });

  it("kidOf throws SecretDecryptionError on unreadable input", () => {
    const ring = new KeyRing([k1]);
    for (const bad of ["", "not-a-jwe", "e30..AAAA.AAAA.AAAA", "!!!..a.b.c"]) {
      expect(() => ring.kidOf(bad)).toThrow(SecretDecryptionError);
    }
  });

  it("constructor rejects empty rings, duplicate kids and wrong key sizes", () => {
    expect(() => new KeyRing([])).toThrow(TypeError);
    expect(() => new KeyRing([k1, { ...k2, kid: "k1" }])).toThrow(/duplicate/);
    expect(() => new KeyRing([{ kid: "k1", key: new Uint8Array(16) }])).toThrow(/32 bytes/);
  });
});

describe("SecretDecryptionError", () => {
  it("never exposes plaintext, ciphertext or key material in messages", async () => {
    const ring = new KeyRing([k1]);
    const jwe = await ring.encrypt(plaintext, binding);
    const zipped = await new CompactEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", zip: "DEF", kid: "k1", ws: "ws_1" })
      .encrypt(k1.key);
    const failures = await Promise.all([
      rejection(ring.decrypt(jwe, { ...binding, field: "x" })),
      rejection(ring.decrypt(characterFlips(jwe, 3)[0] ?? "", binding)),
      rejection(ring.decrypt(characterFlips(jwe, 0)[5] ?? "", binding)),
      rejection(new KeyRing([k2]).decrypt(jwe, binding)),
      rejection(ring.decrypt(zipped, binding)),
      rejection(ring.decrypt(`${jwe}x`, binding)),
    ]);
    const segments = jwe.split(".").filter((s) => s.length >= 8);
    for (const error of failures) {
      expect(error.name).toBe("SecretDecryptionError");
      expect(error.message).not.toContain(plaintext);
      expect(error.message).not.toContain(b64(k1));
      for (const segment of segments) expect(error.message).not.toContain(segment);
      expect(error.message.length).toBeLessThan(100);
    }
  });
});

describe("fingerprint and preview", () => {
  it("fingerprints deterministically with the active key", () => {
    const ring = new KeyRing([k1]);
    const fp = ring.fingerprint(plaintext);
    expect(fp).toMatch(/^hmac-sha256:[0-9a-f]{16}$/);
    expect(new KeyRing([k1, k2]).fingerprint(plaintext)).toBe(fp);
    expect(ring.fingerprint(`${plaintext}x`)).not.toBe(fp);
    expect(new KeyRing([k2, k1]).fingerprint(plaintext)).not.toBe(fp);
  });

  it("previews only the last four characters of long enough values", () => {
    expect(KeyRing.preview("12345678901")).toBeNull();
    expect(KeyRing.preview("123456789012")).toBe("\u2022\u2022\u2022\u20229012");
    expect(KeyRing.preview(plaintext)).toBe("••••p7dc");
  });
});

describe("parseEncryptionKeys", () => {
  const short = Buffer.alloc(16, 7).toString("base64url");

  it("parses a ring in order and round-trips through formatEncryptionKeys", () => {
    const value = formatEncryptionKeys([k2, k1]);
    expect(value).toBe(`k2:${b64(k2)},k1:${b64(k1)}`);
    const { keys, problems } = parseEncryptionKeys(` ${value} \n`);
    expect(problems).toEqual([]);
    expect(keys.map((k) => k.kid)).toEqual(["k2", "k1"]);
    expect(Buffer.from(keys[0]?.key ?? []).equals(Buffer.from(k2.key))).toBe(true);
    expect(formatEncryptionKeys(keys)).toBe(value);
  });

  it("reports a short key with its byte count", () => {
    expect(parseEncryptionKeys(`k1:${b64(k1)},k2:${short}`).problems).toEqual([
      "ENCRYPTION_KEYS entry 2: key must be 32 bytes of base64url, got 16",
    ]);
  });

  const nonCanonical = (() => {
    const encoded = b64(k1);
    const last = ALPHABET.indexOf(encoded.at(-1) ?? "A");
    return encoded.slice(0, -1) + ALPHABET[last | 1];
  })();
  const cases: Array<[string, string, RegExp]> = [
    ["empty", "", /empty/],
    ["blank", "  \n", /empty/],
    ["no colon", b64(k1), /entry 1: expected kid:/],
    ["empty kid", `:${b64(k1)}`, /entry 1: key id is empty/],
    ["kid with a space", `k 1:${b64(k1)}`, /entry 1: key id may only contain/],
    ["kid with a dot", `k.1:${b64(k1)}`, /entry 1: key id may only contain/],
    ["duplicate kid", `k1:${b64(k1)},k1:${b64(k2)}`, /entry 2: duplicate key id/],
    ["trailing comma", `k1:${b64(k1)},`, /entry 2: is empty/],
    ["standard base64", `k1:${Buffer.from(k1.key).toString("base64")}`, /alphabet|canonical/],
    ["padded", `k1:${b64(k1)}=`, /entry 1: key must be 32 bytes of base64url/],
    ["non-canonical", `k1:${nonCanonical}`, /entry 1: key is not canonical/],
    ["too long", `k1:${b64(k1)}${b64(k2)}`, /got 64/],
    ["reversed", `${b64(k1)}:k1`, /entry 1: key must be 32 bytes/],
  ];

  for (const [name, value, expected] of cases) {
    it(`reports a problem for ${name} input without echoing key material`, () => {
      const { keys, problems } = parseEncryptionKeys(value);
      expect(keys).toEqual([]);
      expect(problems.some((problem) => expected.test(problem))).toBe(true);
      for (const material of [b64(k1), b64(k2), Buffer.from(k1.key).toString("base64")]) {
        for (let i = 0; i + 8 <= material.length; i++) {
          const fragment = material.slice(i, i + 8);
          for (const problem of problems) expect(problem).not.toContain(fragment);
        }
      }
    });
  }

  it("generateEncryptionKey makes distinct 32-byte keys and validates the kid", () => {
    const a = generateEncryptionKey("a");
    expect(a.key).toHaveLength(32);
    expect(Buffer.from(a.key).equals(Buffer.from(generateEncryptionKey("a").key))).toBe(false);
    expect(() => generateEncryptionKey("bad kid")).toThrow(TypeError);
  });
});

describe("loadOrCreateKeyFile", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "keyport-crypto-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("creates a 0600 key file in a new directory and returns the same value later", async () => {
    const dataDir = join(await tempDir(), "nested", "data");
    const value = await loadOrCreateKeyFile(dataDir);
    const file = join(dataDir, "encryption-keys");
    if (process.platform !== "win32") expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toBe(value);
    const { keys, problems } = parseEncryptionKeys(value);
    expect(problems).toEqual([]);
    expect(keys).toHaveLength(1);
    expect(await loadOrCreateKeyFile(dataDir)).toBe(value);
  });

  it("agrees on one key when several callers race to create it", async () => {
    const dataDir = await tempDir();
    const values = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyFile(dataDir)));
    expect(new Set(values).size).toBe(1);
    expect((await readFile(join(dataDir, "encryption-keys"), "utf8")).trim()).toBe(values[0]);
  });

  it("returns an existing file's content trimmed and leaves it untouched", async () => {
    const dataDir = await tempDir();
    const value = formatEncryptionKeys([k2, k1]);
    await writeFile(join(dataDir, "encryption-keys"), `\n${value}\n\n`);
    expect(await loadOrCreateKeyFile(dataDir)).toBe(value);
    expect(await readFile(join(dataDir, "encryption-keys"), "utf8")).toBe(`\n${value}\n\n`);
  });
});
