// Go's time.ParseDuration, because HEALTHCHECK durations must be stored exactly as
// Docker stores them (nanoseconds) and accept exactly what Docker accepts ("1h2m",
// "1.5s", "300ms", "0").

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX = 1n << 63n;

/** Parses a Go duration string to nanoseconds; throws Go's error message on bad input. */
export function parseGoDuration(input: string): number {
  const quoted = `"${input}"`;
  const invalid = (): Error => new Error(`time: invalid duration ${quoted}`);
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();

  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]!))) throw invalid();
    let i = 0;
    let whole = 0n;
    while (i < s.length && isDigit(s[i]!)) {
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole >= MAX) throw invalid();
      i++;
    }
    const pre = i > 0;
    s = s.slice(i);

    let frac = 0n;
    let scale = 1;
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (j < s.length && isDigit(s[j]!)) {
        // like Go, digits past what fits in 63 bits are consumed but ignored
        if (!overflow) {
          const next = frac * 10n + BigInt(s.charCodeAt(j) - 48);
          if (next >= MAX) overflow = true;
          else {
            frac = next;
            scale *= 10;
          }
        }
        j++;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();

    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u]!)) u++;
    if (u === 0) throw new Error(`time: missing unit in duration ${quoted}`);
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) throw new Error(`time: unknown unit "${unitName}" in duration ${quoted}`);

    if (whole > MAX / unit) throw invalid();
    let v = whole * unit;
    if (frac > 0n) {
      // float64, as Go does, to stay nanosecond-accurate for fractions of hours
      v += BigInt(Math.trunc(Number(frac) * (Number(unit) / scale)));
      if (v > MAX) throw invalid();
    }
    total += v;
    if (total > MAX) throw invalid();
  }
  if (neg) return -Number(total);
  if (total > MAX - 1n) throw invalid();
  return Number(total);
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
