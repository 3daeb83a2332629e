// Redaction is an allowlist: only keys named as safe are copied as they are; every other value
// (a secret field added later included) is replaced, so nothing leaks by default.
export const redacted = "[redacted]";

export function redactToAllowlist(
  value: Record<string, unknown>,
  allowedKeys: readonly string[],
): Record<string, unknown> {
  const allowed = new Set(allowedKeys);
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    result[key] = allowed.has(key) ? entry : redacted;
  }
  return result;
}
