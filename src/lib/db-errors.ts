// Recognises database failures across Prisma and the driver adapters, which report them
// differently (P2002 from adapter-pg, a raw SQLSTATE from the PGlite adapter).
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, cause } = error as { code?: unknown; cause?: { code?: unknown; kind?: unknown } };
  return code === "P2002" || cause?.code === "23505" || cause?.kind === "UniqueConstraintViolation";
}
