// Character rules for text that arrives from callers. One place, used by the input guard (every
// string argument) and by the field rules of the credential kinds (header-bound values).

// Checked by character code: C0 controls (U+0000-U+001F) and DEL (U+007F); tab, LF and CR only
// in multi-line text.
const isControl = (code: number) => code < 0x20 || code === 0x7f;
const isLineWhitespace = (code: number) => code === 0x09 || code === 0x0a || code === 0x0d;

/** Why a text value is refused, or null. Single-line text allows no control character at all. */
export function textProblem(value: string, options: { multiline?: boolean } = {}): string | null {
  let control = false;
  let lineBreak = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0) return "must not contain NUL characters";
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return "must be valid Unicode (it contains a lone surrogate)";
    }
    if (!isControl(code)) continue;
    if (code === 0x0a || code === 0x0d) lineBreak = true;
    if (!(options.multiline && isLineWhitespace(code))) control = true;
  }
  if (lineBreak && !options.multiline) return "must be a single line (no CR or LF)";
  return control ? "must not contain control characters" : null;
}

// RFC 9110 section 5.5: field-value = *field-content; field-vchar = VCHAR / obs-text; SP and HTAB
// only between visible characters. Header values in fetch are byte strings: nothing above U+00FF.
const isFieldVchar = (code: number) =>
  (code > 0x20 && code < 0x7f) || (code >= 0x80 && code <= 0xff);
// RFC 9110 section 5.6.2: a header name is a token.
const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why a value cannot be sent as an HTTP header value as it is, or null. */
export function headerValueProblem(value: string): string | null {
  const problem = textProblem(value);
  if (problem) return problem;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (isFieldVchar(code)) continue;
    if (code === 0x20 || code === 0x09) {
      if (i === 0 || i === value.length - 1) return "must not start or end with whitespace";
      continue;
    }
    return "must contain only characters an HTTP header value allows (visible ASCII, space, tab, Latin-1)";
  }
  return null;
}

export function isHeaderName(value: string): boolean {
  return token.test(value);
}

/** RFC 7617: the user-id of Basic authentication contains no colon and no control character. */
export function basicUserIdProblem(value: string): string | null {
  return textProblem(value) ?? (value.includes(":") ? "must not contain ':' (RFC 7617)" : null);
}
