/**
 * Formats a date as an HL7 DTM/TS value in UTC with an explicit offset,
 * `YYYYMMDDHHMMSS+0000` (HL7 v2.5.1 ch. 2A.22 DTM). UTC keeps ACKs reproducible and
 * unambiguous whatever the server's time zone.
 */
export function formatHl7DateTime(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds()) +
    '+0000'
  );
}
