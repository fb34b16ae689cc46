/** Every parser the benchmark knows, ours first. */
import type { ParseAdapter } from './parse.adapters';
import { THIRD_PARTY_ADAPTERS } from './parse.adapters';
import { OURS_BYTES, OURS_RAW, OURS_TEXT } from './parse.adapters.ours';

export const ALL_ADAPTERS: readonly ParseAdapter[] = [
  OURS_TEXT,
  OURS_BYTES,
  OURS_RAW,
  ...THIRD_PARTY_ADAPTERS,
];
