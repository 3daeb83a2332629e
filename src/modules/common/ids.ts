// Global ids are Relay-style base64("Type:rawId"). A malformed id, or one of another type, is
// reported on the input field that carried it.
import { decodeGlobalID } from "@pothos/plugin-relay";
import { fieldError } from "../../lib/validation.js";

export function tryDecodeId(globalId: string): { typename: string; id: string } | null {
  try {
    const decoded = decodeGlobalID(globalId);
    // A NUL cannot reach PostgreSQL text: such an id names nothing.
    return decoded.id.includes("\u0000") ? null : decoded;
  } catch {
    return null;
  }
}

/** Returns the raw id of a `typename` global id, or throws a ValidationError on `path`. */
export function rawIdOf(globalId: string, typename: string, path: string[]): string {
  const decoded = tryDecodeId(globalId);
  if (!decoded || decoded.typename !== typename) {
    throw fieldError(path, `is not a valid ${typename} id`);
  }
  return decoded.id;
}
