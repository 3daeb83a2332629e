// Ciphertexts are authenticated and bound to their row and field: any change, or a copy to
// another place, makes reads fail with a masked error and no partial data.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import { AcquireHeadersMutation, CredentialQuery } from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";

describe("tampered ciphertexts", () => {
  let app: TestApp;
  let user: string;
  beforeAll(async () => {
    app = await startTestApp();
    user = await createKey(app, ["credentials:read", "credentials:use"]);
  });
  afterAll(() => app.close());

  const secretRow = (name: string, field: string) =>
    app.database.prisma.credentialSecret.findFirstOrThrow({
      where: { field, credential: { name } },
    });

  async function expectUnreadable(credentialId: string, plaintext: string) {
    const read = await app.execute(CredentialQuery, { id: credentialId }, { key: user });
    expect(errorCodes(read)).toContain("INTERNAL_SERVER_ERROR");
    expect(read.errors?.map((e) => e.message)).toEqual(read.errors?.map(() => "Unexpected error."));
    expect(JSON.stringify(read)).not.toContain(plaintext);
    const acquired = await app.execute(
      AcquireHeadersMutation,
      { input: { credentialId } },
      { key: user },
    );
    expect(acquired.data?.acquireCredentialHeaders ?? null).toBeNull();
    expect(errorCodes(acquired)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(JSON.stringify(acquired)).not.toContain(plaintext);
  }

  it("fails every read after any single character of the ciphertext changes", async () => {
    const plaintext = "tamper-target-token-value";
    const credential = await createCredential(app, {
      name: "target",
      bearer: { token: plaintext },
    });
    const row = await secretRow("target", "token");
    const original = row.ciphertext;
    const segments = original.split(".");
    expect(segments).toHaveLength(5);
    // One position in the header, the IV, the ciphertext and the tag.
    const headerLength = segments[0]?.length ?? 0;
    const positions = [5, headerLength + 2 + 3, original.length - 30, original.length - 2];
    for (const position of positions) {
      const char = original[position];
      const replacement = char === "A" ? "B" : "A";
      const tampered = original.slice(0, position) + replacement + original.slice(position + 1);
      await app.database.prisma.credentialSecret.update({
        where: { id: row.id },
        data: { ciphertext: tampered },
      });
      await expectUnreadable(credential.id, plaintext);
    }
    await app.database.prisma.credentialSecret.update({
      where: { id: row.id },
      data: { ciphertext: original },
    });
    const restored = await app.execute(
      AcquireHeadersMutation,
      { input: { credentialId: credential.id } },
      { key: user },
    );
    expect(restored.data?.acquireCredentialHeaders).toMatchObject({
      headers: [{ value: `Bearer ${plaintext}` }],
    });
    const failures = app.logs.filter((line) => line.includes("secret could not be decrypted"));
    expect(failures.length).toBeGreaterThan(0);
    expect(app.logs.join("\n")).not.toContain(plaintext);
  });

  it("refuses a ciphertext copied to another credential or another field", async () => {
    const victim = await createCredential(app, {
      name: "victim",
      bearer: { token: "victim-token-value", refreshToken: "victim-refresh-value" },
    });
    const attacker = await createCredential(app, {
      name: "attacker",
      bearer: { token: "attacker-token-value" },
    });
    const victimToken = await secretRow("victim", "token");
    const attackerToken = await secretRow("attacker", "token");
    await app.database.prisma.credentialSecret.update({
      where: { id: attackerToken.id },
      data: { ciphertext: victimToken.ciphertext },
    });
    await expectUnreadable(attacker.id, "victim-token-value");

    const victimRefresh = await secretRow("victim", "refreshToken");
    await app.database.prisma.credentialSecret.update({
      where: { id: victimRefresh.id },
      data: { ciphertext: victimToken.ciphertext },
    });
    const read = await app.execute(CredentialQuery, { id: victim.id }, { key: user });
    expect(errorCodes(read)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(read.errors?.[0]?.path).toEqual(["credential", "refreshToken", "value"]);
    // The copied token never surfaces as the refresh token's value.
    expect(read.data?.credential).toMatchObject({ refreshToken: { isSet: true, value: null } });
  });
});
