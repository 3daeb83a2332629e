// GET /oauth/callback: completes the flow and renders a small page that tells the opener window
// the outcome (postMessage) and closes itself — the popup flow. The page carries no secret. It
// posts only to the opener origin given when the authorization started (one of ALLOWED_ORIGINS),
// nothing without one, and it cannot be framed.
import { randomBytes } from "node:crypto";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { type Services, serviceDepsOf } from "../../context.js";
import { CredentialProviderError } from "../credentials/credentials.errors.js";
import { allowedOpenerOrigin, completeAuthorization, hashState } from "./authorization.service.js";

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

type Outcome =
  | { status: "success"; credentialId: string }
  | { status: "error"; code: string; message: string };

function page(outcome: Outcome, openerOrigin: string | null): Response {
  const message =
    outcome.status === "success"
      ? { type: "keyport:oauth", status: "success", credentialId: outcome.credentialId }
      : { type: "keyport:oauth", status: "error", code: outcome.code };
  const text =
    outcome.status === "success"
      ? "Connected. You can close this window."
      : `Authorization failed (${outcome.code}): ${outcome.message}`;
  // JSON inside a script: escape "<" so the payload cannot close the tag.
  const payload = JSON.stringify(message).replace(/</g, "\\u003c");
  const nonce = randomBytes(16).toString("base64");
  // Without an opener origin there is nobody to tell: the page only shows the outcome.
  const script = openerOrigin
    ? `<script nonce="${nonce}">
  (function () {
    var message = ${payload};
    if (window.opener) { window.opener.postMessage(message, ${JSON.stringify(openerOrigin).replace(/</g, "\\u003c")}); window.close(); }
  })();
</script>`
    : "";
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>keyport</title></head>
<body><p id="outcome">${escapeHtml(text)}</p>
${script}</body></html>`;
  return new Response(html, {
    status: outcome.status === "success" ? 200 : 400,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
    },
  });
}

export async function handleOAuthCallback(services: Services, url: URL): Promise<Response> {
  const param = (name: string) => url.searchParams.get(name);
  let openerOrigin: string | null = null;
  try {
    openerOrigin = await openerOriginOf(services, param("state"));
    const { credentialId } = await completeAuthorization(
      serviceDepsOf(services),
      { state: param("state"), code: param("code"), iss: param("iss"), error: param("error") },
      { actor: "oauth:callback" },
    );
    const credential = await services.db.prisma.credential.findUniqueOrThrow({
      where: { id: credentialId },
      select: { kind: true },
    });
    const typeName = credential.kind === "OAUTH2" ? "OAuth2Credential" : "Credential";
    return page(
      { status: "success", credentialId: encodeGlobalID(typeName, credentialId) },
      openerOrigin,
    );
  } catch (error) {
    if (error instanceof CredentialProviderError) {
      return page({ status: "error", code: error.code, message: error.message }, openerOrigin);
    }
    services.logger.error("oauth callback failed", { error });
    return page(
      { status: "error", code: "PROVIDER_UNAVAILABLE", message: "Unexpected error." },
      openerOrigin,
    );
  }
}

/** The opener origin stored with this state, if it is still an allowed origin; else null. */
async function openerOriginOf(services: Services, state: string | null): Promise<string | null> {
  if (!state || state.length > 200) return null;
  const authorization = await services.db.prisma.oAuthAuthorization.findUnique({
    where: { stateHash: hashState(state) },
    select: { openerOrigin: true },
  });
  if (!authorization?.openerOrigin) return null;
  return allowedOpenerOrigin(services.config.http.allowedOrigins, authorization.openerOrigin);
}
