/**
 * ISO 8601 durations for `POST /openmfa/v1/clock/advance` (`{"by": "PT10M"}`): weeks, days,
 * hours, minutes and seconds (fractions of a second to the millisecond), as
 * `PnW` or `PnDTnHnMnS`. Years and months are refused: their length depends on the date.
 */
const PATTERN = /^P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,8})H)?(?:(\d{1,10})M)?(?:(\d{1,12}(?:[.,]\d{1,3})?)S)?)?$/;

/** The longest step one advance may take: ten years of days. */
export const MAX_ADVANCE_MS = 3650 * 24 * 3600_000;

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

export function parseDuration(text: string): DurationResult {
  if (/^P[^T]*\d[YM]/.test(text)) {
    return { ok: false, reason: 'years and months are not accepted (their length depends on the date): use weeks, days, hours, minutes or seconds' };
  }
  const m = PATTERN.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) {
    return { ok: false, reason: 'must be an ISO 8601 duration such as PT10M, PT1H30M, P1D or PT0.5S' };
  }
  const [, w, d, h, min, s] = m;
  const ms = Number(w ?? 0) * 7 * 86_400_000 + Number(d ?? 0) * 86_400_000 + Number(h ?? 0) * 3_600_000
    + Number(min ?? 0) * 60_000 + Math.round(Number((s ?? '0').replace(',', '.')) * 1000);
  if (ms > MAX_ADVANCE_MS) return { ok: false, reason: 'must not be longer than 3650 days' };
  return { ok: true, ms };
}
