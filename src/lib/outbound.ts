// The one path for every HTTP request keyport makes to the outside (token, refresh, client
// credentials, discovery, JWKS, revocation, and whatever comes later). It holds the address
// policy in one place:
//
// - Scheme: https only in production; http or https otherwise.
// - Addresses: a URL's host is resolved and every address checked. Loopback, private, link-local,
//   CGNAT, unique-local, multicast, unspecified, broadcast, reserved, IPv4-mapped or -compatible
//   IPv6 and every other range ipaddr.js does not call unicast are refused unless OUTBOUND_ALLOW
//   admits them (a host name admits that name; an address or CIDR admits matching addresses).
// - Connection: the socket connects to the address that was checked (the check runs inside the
//   connection's own lookup, so a second DNS answer cannot swap it); IP-literal hosts are checked
//   before connecting. Redirects are never followed.
// - Limits: every request has a deadline and every response body is cut at 1 MiB, streamed.
//
// Refusals happen before any connection and throw OutboundRefusedError (ENDPOINT_NOT_ALLOWED).
// No message here ever contains a URL's path or query, which may carry a key.
import { promises as dns, type LookupAddress } from "node:dns";
import ipaddr from "ipaddr.js";
import { Agent, fetch as undiciFetch } from "undici";

export type ResolvedAddress = { address: string; family: number };
/** Resolves a host name to every address it has (the default uses the system resolver). */
export type OutboundLookup = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export type OutboundOptions = {
  production: boolean;
  /** OUTBOUND_ALLOW entries: host names, addresses and CIDRs. */
  allow: readonly string[];
  lookup?: OutboundLookup;
  /** Deadline of a request (connection, headers and body) unless the call gives its own. */
  timeoutMs?: number;
  maxResponseBytes?: number;
};

export type OutboundInit = {
  method?: "GET" | "POST" | "PUT";
  headers?: HeadersInit;
  body?: string | URLSearchParams | null;
  /** The caller's own cancellation; the deadline applies as well. */
  signal?: AbortSignal | null;
  timeoutMs?: number;
};

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The request was refused by the address policy; nothing was sent. Not transient. */
export class OutboundRefusedError extends Error {
  override readonly name = "OutboundRefusedError";
  readonly code = "ENDPOINT_NOT_ALLOWED" as const;
  constructor(
    message: string,
    /** The host name or address (never a path or query). */
    readonly host: string,
  ) {
    super(message);
  }
}

export type OutboundFailure = "timeout" | "redirect" | "too_large" | "network";

/** The request was sent (or tried) and failed. Messages are fixed phrases plus the host. */
export class OutboundError extends Error {
  override readonly name = "OutboundError";
  constructor(
    readonly kind: OutboundFailure,
    message: string,
  ) {
    // No `cause`: the underlying client error may describe the request.
    super(message);
  }
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const rangeNames: Record<string, string> = {
  loopback: "a loopback address",
  private: "a private address",
  linkLocal: "a link-local address",
  carrierGradeNat: "a carrier-grade NAT address",
  uniqueLocal: "a unique-local address",
  multicast: "a multicast address",
  unspecified: "an unspecified address",
  broadcast: "a broadcast address",
  reserved: "a reserved address",
  ipv4Mapped: "an IPv4-mapped IPv6 address",
  deprecatedSiteLocal: "a site-local address",
};

// ::/96 (IPv4-compatible IPv6, RFC 4291 §2.5.5.1) is deprecated; ipaddr.js files it as unicast.
const ipv4Compatible = ipaddr.parseCIDR("::/96");

/**
 * Why an address is refused as a target, e.g. "a private address (10.0.0.0/8)", or null for an
 * ordinary unicast address. OUTBOUND_ALLOW is not considered here.
 */
export function addressProblem(address: Address): string | null {
  const range = address.range();
  if (range === "unicast") {
    if (address.kind() === "ipv6" && address.match(ipv4Compatible)) {
      return "an IPv4-compatible IPv6 address (::/96)";
    }
    return null;
  }
  const label = rangeNames[range] ?? `a special-purpose address (${range})`;
  const cidr = matchingRange(address, range);
  return cidr ? `${label} (${cidr})` : label;
}

function matchingRange(address: Address, range: string): string | null {
  // ipaddr.js keeps its range table on the prototype (untyped); without it, no CIDR is named.
  type WithRanges = { SpecialRanges?: Record<string, unknown> };
  const table =
    address.kind() === "ipv4"
      ? (ipaddr.IPv4.prototype as unknown as WithRanges).SpecialRanges
      : (ipaddr.IPv6.prototype as unknown as WithRanges).SpecialRanges;
  const entry = table?.[range];
  // Either one [address, bits] pair or a list of them.
  const pairs = (
    Array.isArray(entry) && Array.isArray(entry[0]) ? entry : entry ? [entry] : []
  ) as [Address, number][];
  for (const [base, bits] of pairs) {
    if (base.kind() === address.kind() && address.match(base, bits)) {
      return `${base.toString()}/${bits}`;
    }
  }
  return null;
}

/** The address a URL host names literally (WHATWG hosts: IPv4 dotted, IPv6 in brackets). */
function literalAddress(hostname: string): Address | null {
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    const inner = hostname.slice(1, -1);
    return ipaddr.IPv6.isValid(inner) ? ipaddr.IPv6.parse(inner) : null;
  }
  // The URL parser rewrites every IPv4 form (decimal, hex, octal, short) to four-part decimal.
  return ipaddr.IPv4.isValidFourPartDecimal(hostname) ? ipaddr.IPv4.parse(hostname) : null;
}

type AllowList = {
  hosts: Set<string>;
  addresses: Address[];
  ranges: [Address, number][];
};

function parseAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { hosts: new Set(), addresses: [], ranges: [] };
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry.includes("/")) {
      list.ranges.push(ipaddr.parseCIDR(entry));
      continue;
    }
    const bare = entry.replace(/^\[|\]$/g, "");
    if (ipaddr.isValid(bare)) list.addresses.push(ipaddr.parse(bare));
    else list.hosts.add(normalizeHost(entry));
  }
  return list;
}

const normalizeHost = (host: string) => host.toLowerCase().replace(/\.$/, "");

const systemLookup: OutboundLookup = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })) as LookupAddress[];

const nullBodyStatuses = new Set([101, 204, 205, 304]);
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

export class Outbound {
  readonly production: boolean;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  private readonly allow: AllowList;
  private readonly lookup: OutboundLookup;
  private readonly agent: Agent;

  constructor(options: OutboundOptions) {
    this.production = options.production;
    this.allow = parseAllowList(options.allow);
    this.lookup = options.lookup ?? systemLookup;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.agent = new Agent({
      connect: {
        timeout: this.timeoutMs,
        // Node calls this instead of the system resolver for host names (IP literals skip it;
        // fetch() checks those itself). The socket connects to what it returns: the checked
        // address, and only that one.
        lookup: (hostname, options, callback) => {
          this.resolve(hostname).then(
            (address) => {
              if ((options as { all?: boolean }).all) callback(null, [address] as never);
              else callback(null, address.address, address.family);
            },
            (error: Error) => callback(error as NodeJS.ErrnoException, "", 0),
          );
        },
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** Whether an address may be reached, as the reason it may not (null: it may). */
  addressRefusal(address: string): string | null {
    if (!ipaddr.isValid(address)) return "not an IP address";
    const parsed = ipaddr.parse(address);
    if (this.admits(parsed)) return null;
    return addressProblem(parsed);
  }

  private admits(address: Address): boolean {
    const normalized = address.toNormalizedString();
    if (
      this.allow.addresses.some(
        (a) => a.kind() === address.kind() && a.toNormalizedString() === normalized,
      )
    ) {
      return true;
    }
    return this.allow.ranges.some(
      ([base, bits]) => base.kind() === address.kind() && address.match(base, bits),
    );
  }

  /**
   * What is wrong with a URL as an outbound target, decided without any I/O: not an absolute
   * http(s) URL, credentials in it, not https in production, or a host that is an IP literal in a
   * refused range. Host names pass here and are checked when a request is made. The phrase fits
   * after a field name ("must use https").
   */
  urlProblem(value: string | URL): string | null {
    if (typeof value === "string" && !URL.canParse(value)) return "must be an absolute URL";
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:")
      return "must be an http or https URL";
    if (url.username || url.password) return "must not contain credentials";
    if (this.production && url.protocol !== "https:") return "must use https";
    const literal = literalAddress(url.hostname);
    if (literal && !this.admits(literal)) {
      const problem = addressProblem(literal);
      if (problem) return `points to ${problem}; OUTBOUND_ALLOW can admit it`;
    }
    return null;
  }

  /** Throws OutboundRefusedError for a URL urlProblem() refuses; no I/O. */
  check(value: string | URL): URL {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new OutboundRefusedError("the URL is not a valid absolute URL", "");
    }
    const problem = this.urlProblem(url);
    if (problem) {
      throw new OutboundRefusedError(`the endpoint ${url.hostname} ${problem}`, url.hostname);
    }
    return url;
  }

  /**
   * Resolves a host name and returns the address a connection would use: the first one, once
   * every address passed the policy. Throws OutboundRefusedError or OutboundError ("network").
   */
  async resolve(hostname: string): Promise<ResolvedAddress> {
    const host = normalizeHost(hostname);
    let addresses: readonly ResolvedAddress[];
    try {
      addresses = await this.lookup(host);
    } catch {
      throw new OutboundError("network", `${host} could not be resolved`);
    }
    const first = addresses[0];
    if (!first) throw new OutboundError("network", `${host} could not be resolved`);
    if (this.allow.hosts.has(host)) return first;
    for (const { address } of addresses) {
      const problem = this.addressRefusal(address);
      if (problem) {
        throw new OutboundRefusedError(
          `${host} resolves to ${problem}; OUTBOUND_ALLOW can admit it`,
          host,
        );
      }
    }
    return first;
  }

  /**
   * Sends one request under the policy. Resolves with the response (status as sent, 3xx
   * redirects excepted: those throw, unfollowed); its body stream errors once it passes the size
   * cap or the deadline. Throws OutboundRefusedError before connecting, or OutboundError.
   */
  async fetch(input: string | URL, init: OutboundInit = {}): Promise<Response> {
    const url = this.check(input);
    const host = url.hostname;
    const timeoutMs = init.timeoutMs ?? this.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([deadline, init.signal]) : deadline;
    const failed = (error: unknown) => this.translate(error, host, timeoutMs, deadline);

    let upstream: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      upstream = await undiciFetch(url, {
        method: init.method ?? "GET",
        headers: init.headers as never,
        body: init.body ?? null,
        redirect: "manual",
        signal,
        dispatcher: this.agent,
      });
    } catch (error) {
      throw failed(error);
    }
    if (redirectStatuses.has(upstream.status) && upstream.headers.has("location")) {
      await upstream.body?.cancel().catch(() => undefined);
      throw new OutboundError(
        "redirect",
        `${host} answered with a redirect, which is not followed`,
      );
    }
    const body =
      upstream.body === null || nullBodyStatuses.has(upstream.status)
        ? null
        : this.capped(upstream.body as ReadableStream<Uint8Array>, host, failed);
    return new Response(body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: upstream.headers as unknown as Headers,
    });
  }

  /** The body, passed through until it exceeds the cap; never read ahead of the consumer. */
  private capped(
    source: ReadableStream<Uint8Array>,
    host: string,
    failed: (error: unknown) => Error,
  ): ReadableStream<Uint8Array> {
    const reader = source.getReader();
    const max = this.maxResponseBytes;
    let size = 0;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (error) {
            controller.error(failed(error));
            return;
          }
          if (chunk.done) {
            controller.close();
            return;
          }
          size += chunk.value.byteLength;
          if (size > max) {
            await reader.cancel().catch(() => undefined);
            controller.error(
              new OutboundError("too_large", `the response from ${host} exceeds ${max} bytes`),
            );
            return;
          }
          controller.enqueue(chunk.value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  private translate(error: unknown, host: string, timeoutMs: number, deadline: AbortSignal) {
    for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
      if (e instanceof OutboundRefusedError || e instanceof OutboundError) return e;
      e = e.cause;
    }
    if (deadline.aborted) {
      return new OutboundError("timeout", `${host} did not answer within ${timeoutMs} ms`);
    }
    const name = error instanceof Error || error instanceof DOMException ? error.name : "";
    if (name === "AbortError" || name === "TimeoutError") {
      // The caller's own signal (jose's JWKS timeout, say).
      return new OutboundError("timeout", `the request to ${host} was cancelled`);
    }
    return new OutboundError("network", `could not connect to ${host}`);
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

/** The policy built from configuration. */
export function createOutbound(
  config: {
    production: boolean;
    outbound: { allow: string[] };
    oauth: { tokenRequestTimeoutMs: number };
  },
  lookup?: OutboundLookup,
): Outbound {
  return new Outbound({
    production: config.production,
    allow: config.outbound.allow,
    timeoutMs: config.oauth.tokenRequestTimeoutMs,
    ...(lookup ? { lookup } : {}),
  });
}
