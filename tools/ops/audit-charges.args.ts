/**
 * Durations on the audit-charges command line (`--pending-grace 15m`): a number with a unit
 * s, m or h (a bare number is minutes), so an operator never has to count milliseconds.
 */
import { UsageError } from '../common/tool-bootstrap';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(option: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smh]?)$/i.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `--${option} ${JSON.stringify(value)} is not a duration (e.g. 900s, 15m, 2h; a bare number is minutes)`,
    );
  }
  const unit = (match[2] || 'm').toLowerCase() as keyof typeof UNIT_MS;
  return Math.round(Number(match[1]) * UNIT_MS[unit]);
}

/** 900000 → `15m`, 5400000 → `90m`, 7200000 → `2h`, 45000 → `45s`. */
export function formatDuration(ms: number): string {
  if (ms % UNIT_MS.h === 0 && ms > 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0 && ms > 0) return `${ms / UNIT_MS.m}m`;
  return `${ms / UNIT_MS.s}s`;
}
