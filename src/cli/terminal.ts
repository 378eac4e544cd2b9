// Text from the registry, made safe for a terminal: anyone who can write to
// the store can name a worker, and a name with escape sequences could clear
// the screen or forge table rows. Control characters are shown as escapes,
// and long values are cut, keeping the table readable.

/** Longest value a table cell shows (a registry name or reason can be up to a few KB). */
export const MAX_CELL = 80;

// C0 controls, DEL and C1 controls (ESC, CSI, …), plus the Unicode line and
// paragraph separators and bidirectional overrides, which reorder what follows.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function cell(value: string): string {
  const safe = value.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > MAX_CELL ? `${safe.slice(0, MAX_CELL - 1)}…` : safe;
}
