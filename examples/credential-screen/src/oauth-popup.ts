// Runs keyport's OAuth authorization in a popup window. Self-contained: copy this file into your
// frontend and pass it two functions that call your keyport client.
//
//   button.onclick = () =>
//     authorizeInPopup({
//       keyportUrl: "https://keyport.example.com",
//       // authorizeCredential (or reauthorizeCredential) with the openerOrigin given here.
//       start: (openerOrigin) => startAuthorization(credentialId, openerOrigin),
//       // The credential as it is now, e.g. query { credential(id) { ... } }.
//       load: (credentialId) => loadCredential(credentialId),
//     }).then(showCredential, (error: OAuthPopupError) => showReason(error.reason));
//
// Call it directly from the click handler: the popup is opened before anything is awaited, so
// browsers count it as user-initiated and do not block it. keyport's callback page posts its
// outcome to the origin passed as openerOrigin, which must be listed in keyport's ALLOWED_ORIGINS:
//   { type: "keyport:oauth", status: "success" | "error", credentialId, code }
// where `code` is null on success and a CredentialErrorCode otherwise (AUTHORIZATION_DENIED when
// the user refused at the provider).

/** Why no credential came back:
 * - `closed`: the user closed the popup before the authorization finished;
 * - `blocked`: the browser did not open the popup (window.open returned null);
 * - `denied`: the user refused at the provider (access_denied);
 * - `failed`: anything else (keyport refused to start, the provider or the exchange failed). */
export type OAuthPopupFailure = "closed" | "blocked" | "denied" | "failed";

export class OAuthPopupError extends Error {
  override name = "OAuthPopupError";
  constructor(
    readonly reason: OAuthPopupFailure,
    message: string,
    /** keyport's CredentialErrorCode when it reported one, e.g. AUTHORIZATION_FAILED. */
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export type AuthorizeInPopupOptions<Credential> = {
  /** keyport's URL. Only messages sent by the popup from keyport's callback page are accepted:
   * from the origin of the authorization URL's redirect_uri, or else of this URL. */
  keyportUrl: string;
  /** Starts the authorization and returns the provider's URL; throws to fail. */
  start(openerOrigin: string): Promise<{ authorizationUrl: string }>;
  /** Loads the authorized credential by the id the callback page reported. */
  load(credentialId: string): Promise<Credential>;
  /** Popup size; default 520 x 680, centred on the current window. */
  width?: number;
  height?: number;
};

type CallbackMessage = {
  type: "keyport:oauth";
  status: "success" | "error";
  credentialId: string | null;
  code: string | null;
};

const isCallbackMessage = (data: unknown): data is CallbackMessage =>
  typeof data === "object" &&
  data !== null &&
  (data as { type?: unknown }).type === "keyport:oauth" &&
  ((data as { status?: unknown }).status === "success" ||
    (data as { status?: unknown }).status === "error");

export function authorizeInPopup<Credential>(
  options: AuthorizeInPopupOptions<Credential>,
): Promise<Credential> {
  // Until the authorization URL is known, messages are expected from keyport's own origin.
  let callbackOrigin = new URL(options.keyportUrl).origin;
  const width = options.width ?? 520;
  const height = options.height ?? 680;
  const left = Math.round(window.screenX + (window.outerWidth - width) / 2);
  const top = Math.round(window.screenY + (window.outerHeight - height) / 2);
  // Opened blank and synchronously, inside the click; the provider's URL is set once known. No
  // "noopener": the callback page needs window.opener to post its outcome.
  const popup = window.open(
    "about:blank",
    "keyport-oauth",
    `popup,width=${width},height=${height},left=${left},top=${top}`,
  );
  if (!popup) {
    return Promise.reject(
      new OAuthPopupError("blocked", "The browser blocked the sign-in window. Allow popups."),
    );
  }

  return new Promise<Credential>((resolve, reject) => {
    let settled = false;
    let closedAt: number | null = null;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      window.removeEventListener("message", onMessage);
      window.clearInterval(watch);
      if (!popup.closed) popup.close();
      outcome();
    };
    const fail = (reason: OAuthPopupFailure, message: string, code: string | null = null) =>
      finish(() => reject(new OAuthPopupError(reason, message, code)));

    const onMessage = (event: MessageEvent) => {
      if (event.origin !== callbackOrigin || event.source !== popup) return;
      if (!isCallbackMessage(event.data)) return;
      const { status, credentialId, code } = event.data;
      if (status === "success" && credentialId) {
        finish(() => {
          options
            .load(credentialId)
            .then(resolve, (error: unknown) =>
              reject(new OAuthPopupError("failed", messageOf(error))),
            );
        });
      } else if (code === "AUTHORIZATION_DENIED") {
        fail("denied", "Access was denied at the provider.", code);
      } else {
        fail("failed", `The authorization failed (${code ?? "unknown"}).`, code);
      }
    };
    window.addEventListener("message", onMessage);

    // A closed popup is noticed by polling (no event fires in the opener). The callback page
    // posts, then closes itself: give its message a moment to arrive before calling it `closed`.
    const watch = window.setInterval(() => {
      if (!popup.closed) return;
      closedAt ??= Date.now();
      if (Date.now() - closedAt >= 500) {
        fail("closed", "The sign-in window was closed before the account was connected.");
      }
    }, 250);

    options.start(window.location.origin).then(
      ({ authorizationUrl }) => {
        if (settled) return;
        // keyport's callback page is served at the redirect_uri it put into the URL (PUBLIC_URL).
        const redirectUri = new URL(authorizationUrl).searchParams.get("redirect_uri");
        if (redirectUri) callbackOrigin = new URL(redirectUri).origin;
        popup.location.href = authorizationUrl;
      },
      (error: unknown) => fail("failed", messageOf(error)),
    );
  });
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
