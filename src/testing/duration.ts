/**
 * ISO 8601 durations as the manual clock takes them: `PT5M`, `PT1H30M`, `P1D`, `PT0.5S`, `P1W`
 * (weeks alone, as ISO 8601 writes them). Years and months have no fixed length and are refused,
 * as is an empty duration (`P`, `PT`).
 */
const DURATION = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?)$/;

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) throw new RangeError(`not an ISO 8601 duration of weeks, days, hours, minutes or seconds: ${JSON.stringify(text)}`);
  const [, w, d, h, min, s] = m;
  const n = (v: string | undefined): number => (v === undefined ? 0 : Number(v));
  return Math.round((((n(w) * 7 + n(d)) * 24 + n(h)) * 60 + n(min)) * 60_000 + n(s) * 1000);
}
