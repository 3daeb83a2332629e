// The outbound address policy, decided without any I/O: every case either reads only the URL or
// resolves through an injected lookup, and nothing here opens a socket.
import { afterAll, describe, expect, it } from "vitest";
import { Outbound, type OutboundLookup, OutboundRefusedError } from "../../src/lib/outbound.js";

const created: Outbound[] = [];
afterAll(async () => {
  await Promise.all(created.map((outbound) => outbound.close()));
});

/** A lookup that fails the test if the policy resolves anything. */
const noLookup: OutboundLookup = async (hostname) => {
  throw new Error(`unexpected lookup of ${hostname}`);
};

function policy(options: { production?: boolean; allow?: string[]; lookup?: OutboundLookup }) {
  const outbound = new Outbound({
    production: options.production ?? false,
    allow: options.allow ?? [],
    lookup: options.lookup ?? noLookup,
  });
  created.push(outbound);
  return outbound;
}

describe("urlProblem: IP-literal hosts in refused ranges", () => {
  const development = policy({});
  const cases: [string, RegExp][] = [
    ["http://127.0.0.1:8080/t", /loopback address \(127\.0\.0\.0\/8\)/],
    ["http://127.255.255.254/t", /loopback/],
    ["http://[::1]/t", /loopback address \(::1\/128\)/],
    ["http://10.1.2.3/t", /private address \(10\.0\.0\.0\/8\)/],
    ["http://172.16.0.1/t", /private address \(172\.16\.0\.0\/12\)/],
    ["http://172.31.255.255/t", /private address \(172\.16\.0\.0\/12\)/],
    ["http://192.168.1.1/t", /private address \(192\.168\.0\.0\/16\)/],
    ["http://169.254.169.254/latest/meta-data", /link-local address \(169\.254\.0\.0\/16\)/],
    ["http://100.64.0.1/t", /carrier-grade NAT address \(100\.64\.0\.0\/10\)/],
    ["http://100.127.255.254/t", /carrier-grade NAT/],
    ["http://[fc00::1]/t", /unique-local address \(fc00::\/7\)/],
    ["http://[fd12:3456::1]/t", /unique-local address \(fc00::\/7\)/],
    ["http://[fe80::1]/t", /link-local address \(fe80::\/10\)/],
    ["http://224.0.0.1/t", /multicast address/],
    ["http://[ff02::1]/t", /multicast address/],
    ["http://0.0.0.0/t", /unspecified address/],
    ["http://[::]/t", /unspecified address/],
    ["http://255.255.255.255/t", /broadcast address/],
    ["http://240.0.0.1/t", /reserved address/],
    ["http://192.0.2.10/t", /reserved address/],
    // IPv4 addresses hidden in IPv6.
    ["http://[::ffff:a9fe:a9fe]/t", /IPv4-mapped IPv6 address \(::ffff:0:0\/96\)/],
    ["http://[::ffff:169.254.169.254]/t", /IPv4-mapped/],
    ["http://[::ffff:7f00:1]/t", /IPv4-mapped/],
    ["http://[::7f00:1]/t", /IPv4-compatible IPv6 address \(::\/96\)/],
    ["http://[::a9fe:a9fe]/t", /IPv4-compatible/],
    ["http://[64:ff9b::a9fe:a9fe]/t", /special-purpose address \(rfc6052\)/],
    ["http://[2002:a9fe:a9fe::1]/t", /special-purpose address \(6to4\)/],
    // Other spellings of IPv4 that URL parsers accept.
    ["http://2852039166/", /link-local address \(169\.254\.0\.0\/16\)/],
    ["http://0xa9fea9fe/", /link-local/],
    ["http://0x7f.1/", /loopback/],
    ["http://0177.0.0.1/", /loopback/],
    ["http://127.1/", /loopback/],
    ["https://10.0.0.1:443/t", /private/],
  ];
  it.each(cases)("%s is refused", (url, rule) => {
    const problem = development.urlProblem(url);
    expect(problem).toMatch(rule);
    expect(problem).toMatch(/^points to .*; OUTBOUND_ALLOW can admit it$/);
  });

  it.each([
    "https://8.8.8.8/t",
    "https://1.1.1.1/t",
    "http://93.184.215.14/t",
    "https://[2606:4700:4700::1111]/t",
    "https://[2001:4860:4860::8888]/t",
    "https://auth.example/t",
    // Host names are resolved and checked when a request is made, not at input.
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://localhost:8080/t",
  ])("%s passes without I/O", (url) => {
    expect(development.urlProblem(url)).toBeNull();
  });

  it("refuses URLs that are not absolute http(s) URLs or carry credentials", () => {
    expect(development.urlProblem("not a url")).toBe("must be an absolute URL");
    expect(development.urlProblem("/relative")).toBe("must be an absolute URL");
    expect(development.urlProblem("javascript:alert(1)")).toBe("must be an http or https URL");
    expect(development.urlProblem("ftp://a.example/f")).toBe("must be an http or https URL");
    expect(development.urlProblem("file:///etc/passwd")).toBe("must be an http or https URL");
    expect(development.urlProblem("https://u:p@a.example/")).toBe("must not contain credentials");
  });
});

describe("urlProblem in production: https only, no loopback exception", () => {
  const production = policy({ production: true });
  it.each([
    "http://auth.example/t",
    "http://127.attacker.example/t",
    "http://127.0.0.1:8080/t",
    "http://localhost/t",
    "http://[::1]/t",
  ])("%s must use https", (url) => {
    expect(production.urlProblem(url)).toBe("must use https");
  });

  it("still refuses https to loopback and private addresses", () => {
    expect(production.urlProblem("https://127.0.0.1:8443/t")).toMatch(/loopback/);
    expect(production.urlProblem("https://10.0.0.1/t")).toMatch(/private/);
    expect(production.urlProblem("https://auth.example/t")).toBeNull();
    expect(production.urlProblem("https://127.attacker.example/t")).toBeNull();
  });

  it("keeps https-only for hosts OUTBOUND_ALLOW admits", () => {
    const admitted = policy({ production: true, allow: ["127.0.0.0/8"] });
    expect(admitted.urlProblem("https://127.0.0.1:8443/t")).toBeNull();
    expect(admitted.urlProblem("http://127.0.0.1:8080/t")).toBe("must use https");
  });
});

describe("OUTBOUND_ALLOW", () => {
  it("admits addresses inside an allowed CIDR, and only those", () => {
    const outbound = policy({ allow: ["10.0.0.0/8", "fd00::/8"] });
    expect(outbound.urlProblem("http://10.1.2.3/t")).toBeNull();
    expect(outbound.urlProblem("http://[fd00::5]/t")).toBeNull();
    expect(outbound.urlProblem("http://192.168.1.1/t")).toMatch(/private/);
    expect(outbound.urlProblem("http://[fc00::5]/t")).toMatch(/unique-local/);
    expect(outbound.urlProblem("http://127.0.0.1/t")).toMatch(/loopback/);
  });

  it("admits a single address exactly", () => {
    const outbound = policy({ allow: ["169.254.169.254", "::1"] });
    expect(outbound.urlProblem("http://169.254.169.254/t")).toBeNull();
    expect(outbound.urlProblem("http://169.254.169.253/t")).toMatch(/link-local/);
    expect(outbound.urlProblem("http://[::1]/t")).toBeNull();
    expect(outbound.addressRefusal("::1")).toBeNull();
    expect(outbound.addressRefusal("0:0:0:0:0:0:0:1")).toBeNull();
  });

  it("does not let an IPv4 CIDR admit the IPv4-mapped IPv6 form", () => {
    const outbound = policy({ allow: ["127.0.0.0/8", "::1"] });
    expect(outbound.urlProblem("http://127.0.0.1/t")).toBeNull();
    expect(outbound.urlProblem("http://[::ffff:7f00:1]/t")).toMatch(/IPv4-mapped/);
    expect(outbound.urlProblem("http://[::7f00:1]/t")).toMatch(/IPv4-compatible/);
  });
});

describe("resolve: every resolved address is checked (injected lookup, no sockets)", () => {
  const table: Record<string, string[]> = {
    "metadata.google.internal": ["169.254.169.254"],
    "intranet.corp.test": ["10.20.30.40"],
    "mixed.corp.test": ["8.8.8.8", "10.0.0.7"],
    "mapped.corp.test": ["::ffff:a9fe:a9fe"],
    "cgnat.corp.test": ["100.64.1.1"],
    "ula.corp.test": ["fd00::1"],
    "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "idp.internal.test": ["10.9.8.7"],
  };
  const lookups: string[] = [];
  const lookup: OutboundLookup = async (hostname) => {
    lookups.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw new Error("ENOTFOUND");
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  const outbound = policy({ lookup, allow: ["idp.internal.test"] });

  async function refusal(host: string): Promise<OutboundRefusedError> {
    try {
      await outbound.resolve(host);
    } catch (error) {
      expect(error).toBeInstanceOf(OutboundRefusedError);
      return error as OutboundRefusedError;
    }
    throw new Error(`expected ${host} to be refused`);
  }

  it.each([
    ["metadata.google.internal", /link-local address \(169\.254\.0\.0\/16\)/],
    ["intranet.corp.test", /private address \(10\.0\.0\.0\/8\)/],
    ["mixed.corp.test", /private address/],
    ["mapped.corp.test", /IPv4-mapped/],
    ["cgnat.corp.test", /carrier-grade NAT/],
    ["ula.corp.test", /unique-local/],
  ])("%s is refused by what it resolves to", async (host, rule) => {
    const error = await refusal(host);
    expect(error.code).toBe("ENDPOINT_NOT_ALLOWED");
    expect(error.host).toBe(host);
    expect(error.message).toMatch(rule);
    expect(error.message.startsWith(`${host} resolves to `)).toBe(true);
    expect(error.message.endsWith("; OUTBOUND_ALLOW can admit it")).toBe(true);
  });

  it("returns the first address of a public name", async () => {
    expect(await outbound.resolve("public.example")).toEqual({
      address: "93.184.215.14",
      family: 4,
    });
  });

  it("admits a host name OUTBOUND_ALLOW names, case and trailing dot aside", async () => {
    expect((await outbound.resolve("idp.internal.test")).address).toBe("10.9.8.7");
    expect((await outbound.resolve("IDP.Internal.Test.")).address).toBe("10.9.8.7");
  });
});

describe("fetch refuses before any I/O", () => {
  it("refuses IP literals, production http and the 127. prefix trick without resolving", async () => {
    const development = policy({});
    const production = policy({ production: true });
    const cases: [Outbound, string, RegExp][] = [
      [development, "http://169.254.169.254/latest/meta-data/iam?token=SECRET", /link-local/],
      [development, "http://2852039166/secret-path", /link-local/],
      [development, "http://[::ffff:a9fe:a9fe]/secret-path", /IPv4-mapped/],
      [development, "http://[::ffff:7f00:1]:1/secret-path", /IPv4-mapped/],
      [development, "http://10.0.0.1/secret-path?key=SECRET", /private/],
      [production, "http://127.attacker.example/secret-path", /must use https/],
      [production, "http://auth.example/secret-path", /must use https/],
    ];
    for (const [outbound, url, rule] of cases) {
      const error = await outbound.fetch(url).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(OutboundRefusedError);
      const message = (error as Error).message;
      expect(message, url).toMatch(rule);
      // The host may be named; the path and query never are.
      expect(message).not.toMatch(/secret-path|SECRET|meta-data/);
    }
  });
});
