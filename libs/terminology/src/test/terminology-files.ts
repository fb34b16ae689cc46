import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TERMINOLOGY_DIR,
  TERMINOLOGY_FILES,
  type TerminologyFileName,
} from '../terminology.loader';

/** The shipped tables as text, to be edited by a test and parsed with parseTerminology. */
export function shippedFiles(): Record<TerminologyFileName, string> {
  const files = {} as Record<TerminologyFileName, string>;
  for (const name of Object.keys(TERMINOLOGY_FILES) as TerminologyFileName[]) {
    files[name] = readFileSync(join(DEFAULT_TERMINOLOGY_DIR, name), 'utf8');
  }
  return files;
}

/** A private copy of the shipped tables in a temporary directory, removed by `cleanup`. */
export function copyOfShippedDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'terminology-'));
  cpSync(DEFAULT_TERMINOLOGY_DIR, dir, { recursive: true });
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Appends lines to a CSV text, keeping its final newline. */
export function withRows(csv: string, ...rows: string[]): string {
  return `${csv.endsWith('\n') ? csv : `${csv}\n`}${rows.join('\n')}\n`;
}
