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
  | { status: "error"; credentialId: string | null; code: string; message: string };

const styles = `body{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1d2330}
main{background:#fff;border:1px solid #dde1e8;border-radius:10px;padding:24px 28px;max-width:28rem}
h1{font-size:18px;margin:0 0 8px}.error h1{color:#a3261b}.success h1{color:#1c6b37}
code{background:#f0f1f4;padding:1px 5px;border-radius:4px}p{margin:6px 0}`;

function page(outcome: Outcome, openerOrigin: string | null): Response {
  // Every outcome tells the opener the same three things; `code` is null on success.
  const message = {
    type: "keyport:oauth",
    status: outcome.status,
    credentialId: outcome.credentialId,
    code: outcome.status === "success" ? null : outcome.code,
  };
  const body =
    outcome.status === "success"
      ? `<h1>Connected</h1><p>The account is connected. This window closes by itself; you can also close it.</p>`
      : `<h1>${outcome.code === "AUTHORIZATION_DENIED" ? "Not connected" : "Connection failed"}</h1>
<p>${escapeHtml(outcome.message)}</p>
<p>Code: <code>${escapeHtml(outcome.code)}</code></p>
<p>You can close this window and try again.</p>`;
  // JSON inside a script: escape "<" so the payload cannot close the tag.
  const payload = JSON.stringify(message).replace(/</g, "\\u003c");
  const nonce = randomBytes(16).toString("base64");
  // Without an opener origin there is nobody to tell: the page only shows the outcome. It closes
  // itself only on success, so a failure stays readable.
  const close = outcome.status === "success" ? " window.close();" : "";
  const script = openerOrigin
    ? `<script nonce="${nonce}">
  (function () {
    var message = ${payload};
    if (window.opener) { window.opener.postMessage(message, ${JSON.stringify(openerOrigin).replace(/</g, "\\u003c")});${close} }
  })();
</script>`
    : "";
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>keyport: ${outcome.status === "success" ? "connected" : "not connected"}</title>
<style nonce="${nonce}">${styles}</style></head>
<body><main id="outcome" class="${outcome.status}">${body}</main>
${script}</body></html>`;
  return new Response(html, {
    status: outcome.status === "success" ? 200 : 400,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
    },
  });
}

export async function handleOAuthCallback(services: Services, url: URL): Promise<Response> {
  const param = (name: string) => url.searchParams.get(name);
  const started = await pendingOf(services, param("state")).catch(() => ({
    credentialId: null,
    openerOrigin: null,
  }));
  try {
    const { credentialId } = await completeAuthorization(
      serviceDepsOf(services),
      { state: param("state"), code: param("code"), iss: param("iss"), error: param("error") },
      { actor: "oauth:callback" },
    );
    return page(
      { status: "success", credentialId: encodeGlobalID("OAuth2Credential", credentialId) },
      started.openerOrigin,
    );
  } catch (error) {
    const credentialId = started.credentialId
      ? encodeGlobalID("OAuth2Credential", started.credentialId)
      : null;
    if (error instanceof CredentialProviderError) {
      return page(
        { status: "error", credentialId, code: error.code, message: error.message },
        started.openerOrigin,
      );
    }
    services.logger.error("oauth callback failed", { error });
    return page(
      {
        status: "error",
        credentialId,
        code: "PROVIDER_UNAVAILABLE",
        message: "Unexpected error.",
      },
      started.openerOrigin,
    );
  }
}

/** The authorization this state started: its credential, and its opener origin if that is
 * still an allowed origin. Nulls for an unknown state (nothing is posted then). */
async function pendingOf(
  services: Services,
  state: string | null,
): Promise<{ credentialId: string | null; openerOrigin: string | null }> {
  if (!state || state.length > 200) return { credentialId: null, openerOrigin: null };
  const authorization = await services.db.prisma.oAuthAuthorization.findUnique({
    where: { stateHash: hashState(state) },
    select: { openerOrigin: true, credentialId: true },
  });
  if (!authorization) return { credentialId: null, openerOrigin: null };
  return {
    credentialId: authorization.credentialId,
    openerOrigin: authorization.openerOrigin
      ? allowedOpenerOrigin(services.config.http.allowedOrigins, authorization.openerOrigin)
      : null,
  };
}
