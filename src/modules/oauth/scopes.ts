// Comparing the scopes a credential asked for with the scopes the provider granted.
//
// Providers do not always answer in the spelling they were asked in: Google grants `email` as
// `https://www.googleapis.com/auth/userinfo.email`. A ScopeSpelling maps both sides to one
// canonical form before they are compared. Where a provider's spelling comes from is one named
// place, scopeSpellingFor(providerKey): built-in entries below until the provider catalog
// declares them.

/** Protocol signals rather than permissions: never reported missing. `openid` asks for an
 * id_token; `offline_access` asks for a refresh token, and OpenID providers drop it from the
 * granted scope in several legitimate ways (OpenID Connect Core §11). */
const protocolScopes: ReadonlySet<string> = new Set(["openid", "offline_access"]);

/** Maps one scope, as requested or as granted, to the canonical spelling both are compared in. */
export type ScopeSpelling = (scope: string) => string;

/** Scopes compared exactly as written (RFC 6749 §3.3: case-sensitive strings). */
export const exactSpelling: ScopeSpelling = (scope) => scope;

/** A spelling from a table of short names and the names the provider grants them under. */
export function aliasSpelling(aliases: Readonly<Record<string, string>>): ScopeSpelling {
  const table = new Map(Object.entries(aliases));
  return (scope) => table.get(scope) ?? scope;
}

/** Built-in spellings by provider key. A provider catalog entry supersedes these. */
const builtInSpellings: Readonly<Record<string, ScopeSpelling>> = {
  // https://developers.google.com/identity/protocols/oauth2/scopes#oauth2
  google: aliasSpelling({
    email: "https://www.googleapis.com/auth/userinfo.email",
    profile: "https://www.googleapis.com/auth/userinfo.profile",
  }),
};

/** A catalog provider's scope rules, as kept with an OAuth credential. */
export type ProviderScopeRules = {
  separator: string;
  responseSeparator: string | null;
  aliases: Readonly<Record<string, string>>;
};

/** How the credential's provider spells scopes; exact comparison for unknown providers. The
 * catalog's rules, when the credential has them, come first. */
export function scopeSpellingFor(
  providerKey: string | null | undefined,
  rules?: ProviderScopeRules | null,
): ScopeSpelling {
  if (rules) return aliasSpelling(rules.aliases);
  return (
    (providerKey && Object.hasOwn(builtInSpellings, providerKey)
      ? builtInSpellings[providerKey]
      : undefined) ?? exactSpelling
  );
}

/**
 * The scopes a token response grants. An absent (or empty) `scope` means "as requested"
 * (RFC 6749 §5.1), so `requested` is returned then.
 */
export function grantedScopesOf(
  responseScope: string | null,
  requested: readonly string[],
  rules?: ProviderScopeRules | null,
) {
  // Providers that separate with commas (Slack, GitHub's answers) may add spaces too.
  const separator = rules ? (rules.responseSeparator ?? rules.separator) : " ";
  const granted = responseScope
    ? responseScope
        .split(separator)
        .flatMap((part) => part.split(" "))
        .filter(Boolean)
    : [...requested];
  // In the catalog's spelling, so granted and requested scopes read alike.
  const spelled = rules ? granted.map(aliasSpelling(rules.aliases)) : granted;
  return [...new Set(spelled)];
}

/** The requested scopes that `granted` does not cover, in the requested order and spelling. */
export function missingScopesOf(
  requested: readonly string[],
  granted: readonly string[],
  spelling: ScopeSpelling = exactSpelling,
): string[] {
  const canonicalGranted = new Set(granted.map(spelling));
  const missing = requested.filter(
    (scope) => !protocolScopes.has(scope) && !canonicalGranted.has(spelling(scope)),
  );
  return [...new Set(missing)];
}

/** The status reason message of a credential that was granted fewer scopes than it asked for. */
export function insufficientScopesMessage(missing: readonly string[]): string {
  const listed = missing.slice(0, 10).join(" ");
  const more = missing.length > 10 ? ` and ${missing.length - 10} more` : "";
  return `The provider granted fewer scopes than requested (missing: ${listed}${more}); the token works for the granted ones. Re-authorize to add the missing scopes.`;
}
