// The key ring test apps use, for tests that inspect stored ciphertexts directly.
import { KeyRing, parseEncryptionKeys } from "../../src/lib/crypto.js";
import { testEncryptionKeys } from "./app.js";

export function testKeyRing(): KeyRing {
  return new KeyRing(parseEncryptionKeys(testEncryptionKeys).keys);
}
