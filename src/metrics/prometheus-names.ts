// The Prometheus name of an OpenTelemetry metric, as the Collector's
// prometheus exporter derives it under its default translation strategy
// (UnderscoreEscapingWithSuffixes, per the OTel→Prometheus compatibility
// spec). jobwatch's own /metrics endpoint uses the same rule, so a query
// written against one path works unchanged against the other.

/** How the metric is exposed, which decides the `_total` and `_ratio` suffixes. */
export type PrometheusKind = 'counter' | 'gauge' | 'updown' | 'histogram';

// UCUM units → the plural words Prometheus puts at the end of a name.
const UNIT_WORDS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

// The denominator of a rate unit ("By/s") reads in the singular.
const PER_UNIT_WORDS: Record<string, string> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

const NOT_NAME_CHARS = /[^a-zA-Z0-9:]+/;

function tokens(text: string): string[] {
  return text.split(NOT_NAME_CHARS).filter(Boolean);
}

/** One side of a unit as a word; `{annotations}` are counts of things and add nothing. */
function unitWord(part: string | undefined, words: Record<string, string>): string {
  const unit = part?.trim() ?? '';
  if (unit === '' || unit.includes('{') || unit.includes('}')) return '';
  return tokens(words[unit] ?? unit).join('_');
}

function unitWords(unit: string): { main: string; per: string } {
  const [main, per] = unit.split('/', 2);
  return { main: unitWord(main, UNIT_WORDS), per: unitWord(per, PER_UNIT_WORDS) };
}

/** The unit as the words appended to the name: `s` → `seconds`, `By/s` → `bytes_per_second`, `{job}` → ``. */
export function prometheusUnit(unit: string): string {
  const { main, per } = unitWords(unit);
  return [main, per && `per_${per}`].filter(Boolean).join('_');
}

export function prometheusName(name: string, unit: string, kind: PrometheusKind): string {
  const parts = tokens(name);
  const { main, per } = unitWords(unit);
  // A name that already says its unit ("..._seconds") does not say it twice.
  if (main && !parts.includes(main)) parts.push(main);
  if (per) parts.push('per', per);
  const suffix = kind === 'counter' ? 'total' : kind === 'gauge' && unit === '1' ? 'ratio' : '';
  const named = suffix ? [...parts.filter((t) => t !== suffix), suffix] : parts;
  const joined = named.join('_');
  return /^[0-9]/.test(joined) ? `_${joined}` : joined;
}
