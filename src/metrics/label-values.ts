// Every label value jobwatch emits (queue, job name, worker name, error type)
// is bounded in length as well as in count: an app that names jobs from data
// must not turn one scrape into megabytes or stall its own event loop
// serializing them. A long value keeps a readable prefix and ends in a hash of
// the whole value, so two long names that share a prefix stay two series.

export const MAX_LABEL_LENGTH = 128;
const HASH_LENGTH = 8;

/** `value` itself when short enough, else its first characters, `~` and an 8-hex-digit hash of all of it. */
export function boundedLabel(value: string): string {
  if (value.length <= MAX_LABEL_LENGTH) return value;
  const keep = MAX_LABEL_LENGTH - HASH_LENGTH - 1;
  return `${value.slice(0, keep)}~${fnv1a(value)}`;
}

/** FNV-1a over UTF-16 code units: stable across processes, so every process truncates a name alike. */
function fnv1a(value: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(HASH_LENGTH, '0');
}
