import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@ancillary/testing';
import { TerminologyLoadError } from './terminology.errors';
import { TerminologyStore, type TerminologyReloadOutcome } from './terminology.store';
import { copyOfShippedDir, withRows } from './test/terminology-files';

function setVersion(dir: string, version: string): void {
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version, description: 'test' }));
}

/** Saves the way editors do: a temporary file renamed over the old one. */
function saveAtomically(dir: string, name: string, content: string): void {
  const temporary = join(dir, `.${name}.tmp`);
  writeFileSync(temporary, content);
  renameSync(temporary, join(dir, name));
}

describe('TerminologyStore', () => {
  let dir: string;
  let cleanup: () => void;
  const stops: (() => void)[] = [];

  beforeEach(() => {
    ({ dir, cleanup } = copyOfShippedDir());
  });

  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    cleanup();
  });

  it('loads at construction and refuses to start on invalid tables', () => {
    expect(new TerminologyStore({ dir }).current.version).toBe('2026.12.0');
    writeFileSync(join(dir, 'flags.csv'), 'flag\nH\n');
    expect(() => new TerminologyStore({ dir })).toThrow(TerminologyLoadError);
  });

  it('swaps in edited tables on reload and reports the outcome', () => {
    const outcomes: TerminologyReloadOutcome[] = [];
    const store = new TerminologyStore({ dir, onReload: (o) => outcomes.push(o) });
    const before = store.current;
    const csv = readFileSync(join(dir, 'lab-codes.csv'), 'utf8');
    writeFileSync(
      join(dir, 'lab-codes.csv'),
      withRows(csv, 'NWH-LAB,GLUX,L,Glucose (new analyser),2345-7,Glucose,NM,mg/dL,mg/dL,70,99,0'),
    );
    setVersion(dir, '2026.11.1');

    const outcome = store.reload();

    expect(outcome).toMatchObject({ ok: true, trigger: 'manual', changed: true, previous: before });
    expect(store.current.version).toBe('2026.11.1');
    expect(store.current.contentHash).not.toBe(before.contentHash);
    expect(store.current.mapLabCode('NWH-LAB', 'GLUX', 'L').loincCode).toBe('2345-7');
    // The old object is untouched: a message being mapped with it finishes on the old tables.
    expect(() => before.mapLabCode('NWH-LAB', 'GLUX', 'L')).toThrow(/no LOINC mapping/);
    expect(outcomes).toEqual([outcome]);
  });

  it('keeps the same object when nothing changed', () => {
    const store = new TerminologyStore({ dir });
    const before = store.current;
    expect(store.reload()).toMatchObject({ ok: true, changed: false });
    expect(store.current).toBe(before);
  });

  it('keeps serving the old tables when the new files are broken, and says why', () => {
    const store = new TerminologyStore({ dir });
    const before = store.current;
    const csv = readFileSync(join(dir, 'units.csv'), 'utf8');
    writeFileSync(join(dir, 'units.csv'), withRows(csv, 'mg/dL,mg/dL,duplicate'));

    const outcome = store.reload();

    expect(outcome.ok).toBe(false);
    expect(outcome.terminology).toBe(before);
    expect(store.current).toBe(before);
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.error).toBeInstanceOf(TerminologyLoadError);
    expect(outcome.error.message).toMatch(
      /units\.csv line \d+, column local_unit: duplicate unit "mg\/dL": already defined on line 6/,
    );

    writeFileSync(join(dir, 'units.csv'), csv);
    setVersion(dir, '2026.11.2');
    expect(store.reload()).toMatchObject({ ok: true, changed: true });
    expect(store.current.version).toBe('2026.11.2');
  });

  it('reports a directory that disappeared as a failed reload, not a crash', () => {
    const store = new TerminologyStore({ dir });
    cleanup();
    const outcome = store.reload();
    expect(outcome.ok).toBe(false);
    expect(store.current.version).toBe('2026.12.0');
  });

  it('watches the directory and reloads after a burst of edits, once', async () => {
    const outcomes: TerminologyReloadOutcome[] = [];
    const store = new TerminologyStore({ dir, debounceMs: 100, onReload: (o) => outcomes.push(o) });
    stops.push(store.watch());

    const csv = readFileSync(join(dir, 'flags.csv'), 'utf8');
    saveAtomically(dir, 'flags.csv', withRows(csv, 'QCF,IE,Insufficient evidence,N,QC failed'));
    setVersion(dir, '2026.11.3');

    await waitFor(() => store.current.version === '2026.11.3', {
      description: 'the watcher to load version 2026.11.3',
    });
    expect(store.current.mapFlag('QCF').interpretationCode).toBe('IE');
    expect(outcomes.filter((o) => o.trigger === 'watch' && o.ok && o.changed)).toHaveLength(1);
  });

  it('keeps the old tables when a watched edit breaks a file, then takes the fix', async () => {
    const outcomes: TerminologyReloadOutcome[] = [];
    const store = new TerminologyStore({ dir, debounceMs: 50, onReload: (o) => outcomes.push(o) });
    stops.push(store.watch());
    const csv = readFileSync(join(dir, 'critical-ranges.csv'), 'utf8');

    saveAtomically(dir, 'critical-ranges.csv', withRows(csv, '2823-3,mmol/L,9,3,Potassium'));
    const failure = await waitFor(() => outcomes.find((o) => !o.ok), {
      description: 'a failed reload',
    });
    expect(failure.terminology).toBe(store.current);
    expect(store.current.criticalRangeFor('2823-3', 'mmol/L')?.criticalLow).toBe(2.8);

    saveAtomically(
      dir,
      'critical-ranges.csv',
      csv.replace('2823-3,mmol/L,2.8,', '2823-3,mmol/L,2.5,'),
    );
    await waitFor(() => store.current.criticalRangeFor('2823-3', 'mmol/L')?.criticalLow === 2.5, {
      description: 'the fixed critical range',
    });
  });

  it('stops reloading once the stop function is called', async () => {
    let stoppedStoreReloads = 0;
    const stopped = new TerminologyStore({
      dir,
      debounceMs: 50,
      onReload: () => stoppedStoreReloads++,
    });
    stopped.watch()();
    // A second store on the same directory with the same debounce: once it has reloaded, the
    // stopped one would have too, had it still been watching.
    const witness = new TerminologyStore({ dir, debounceMs: 50 });
    stops.push(witness.watch());

    setVersion(dir, '2026.11.4');
    await waitFor(() => witness.current.version === '2026.11.4', {
      description: 'the witness store to reload',
    });
    expect(stoppedStoreReloads).toBe(0);
    expect(stopped.current.version).toBe('2026.12.0');
  });

  it('reports a directory it cannot watch to onWatchError', () => {
    const errors: Error[] = [];
    const store = new TerminologyStore({ dir, onWatchError: (e) => errors.push(e) });
    cleanup();
    const stop = store.watch();
    stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/ENOENT/);
  });
});
