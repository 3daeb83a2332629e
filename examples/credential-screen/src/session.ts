// Where the screen gets its connect token and keyport URL: the URL's fragment
// (#token=kpcs_…&keyport=https://keyport.example.com), read once and then removed from the address
// bar and history, or the form on the first page. The token is kept in memory only: never in
// localStorage, sessionStorage or a cookie. A reload asks for it again.
export type Session = { keyportUrl: string; token: string };

export function takeSessionFromFragment(): Session | null {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");
  const keyportUrl = params.get("keyport");
  if (!token) return null;
  // The fragment never reaches a server, but it stays in history: drop it.
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return { token, keyportUrl: keyportUrl ?? defaultKeyportUrl() };
}

export const defaultKeyportUrl = () =>
  (import.meta.env.VITE_KEYPORT_URL as string | undefined) ?? "http://127.0.0.1:4000";
