/**
 * Phone numbers (reference §5): the spellings PingOne accepts for one number —
 * `+1.5125201234`, `+15125201234`, `+1.512.520.1234`, `+1 (512) 520-1234` — are kept in one
 * form, E.164 (`+15125201234`). An extension (`x123`, `ext. 123`, `;ext=123`) is kept as
 * `+15125201234x123`, and only where the environment allows extensions (VOICE).
 */
export type PhoneResult = { ok: true; phone: string; extension?: string } | { ok: false; reason: string };

export function normalizePhone(input: string): PhoneResult {
  const text = input.trim();
  if (text.length > 64) return { ok: false, reason: 'The phone number is too long' };
  const ext = /^(.*?)(?:\s*(?:x|ext\.?|extension|;ext=)\s*(\d{1,8}))$/i.exec(text);
  const main = ext ? ext[1]! : text;
  if (!main.startsWith('+')) return { ok: false, reason: 'The phone number must be in international form, starting with +' };
  if (!/^\+[\d\s.()-]+$/.test(main)) return { ok: false, reason: 'The phone number may hold only digits, spaces, dots, dashes and parentheses after +' };
  const digits = main.slice(1).replace(/[\s.()-]/g, '');
  if (!/^[1-9]\d{6,14}$/.test(digits)) return { ok: false, reason: 'The phone number must have 7 to 15 digits after +, the first not 0' };
  return ext ? { ok: true, phone: `+${digits}x${ext[2]!}`, extension: ext[2]! } : { ok: true, phone: `+${digits}` };
}
