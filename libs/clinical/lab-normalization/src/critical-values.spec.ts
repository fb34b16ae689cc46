import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { criticalAlertId } from '@ancillary/contracts';
import {
  DEFAULT_TERMINOLOGY_DIR,
  TERMINOLOGY_FILES,
  parseTerminology,
  type TerminologyFileName,
} from '@ancillary/terminology';
import { assessCritical, criticalAlerts, type CriticalInput } from './critical-values';
import type { Coding } from './lab-result.types';
import { resultKey } from './result-key';
import { normalizeFixture, terminology } from './test/fixtures';

const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const RAISED_AT = Date.UTC(2026, 10, 16, 18, 0, 5);

function flag(code: string): Coding {
  return { system: V3, code, display: code };
}

function numericInput(
  loinc: string,
  numeric: number,
  unit: string | null,
  comparator: string | null = null,
  flags: string[] = [],
): CriticalInput {
  return {
    code: { system: 'http://loinc.org', code: loinc, display: null },
    value: { kind: 'NUMERIC', numeric, comparator, coded: null, text: null },
    unit: unit === null ? null : { system: 'http://unitsofmeasure.org', code: unit, display: unit },
    interpretation: flags.map(flag),
  };
}

describe('assessCritical', () => {
  it.each([
    ['2823-3', 6.8, 'mmol/L', null, ['Potassium 6.8 mmol/L above critical high 6.2 mmol/L']],
    ['2823-3', 2.5, 'mmol/L', null, ['Potassium 2.5 mmol/L below critical low 2.8 mmol/L']],
    ['2823-3', 6.2, 'mmol/L', null, []],
    ['2823-3', 2.8, 'mmol/L', null, []],
    ['2951-2', 118, 'mmol/L', null, ['Sodium 118 mmol/L below critical low 120 mmol/L']],
    ['2345-7', 500, 'mg/dL', '>', ['Glucose (mass) >500 mg/dL above critical high 450 mg/dL']],
    ['2345-7', 450, 'mg/dL', '>', ['Glucose (mass) >450 mg/dL above critical high 450 mg/dL']],
    ['2345-7', 450, 'mg/dL', '>=', []],
    ['2345-7', 400, 'mg/dL', '>', []],
    ['2345-7', 40, 'mg/dL', '<', ['Glucose (mass) <40 mg/dL below critical low 40 mg/dL']],
    ['2345-7', 40, 'mg/dL', '<=', []],
    ['2345-7', 30, 'mg/dL', '>', []],
    ['10839-9', 0.01, 'ng/mL', '<', []],
    ['6301-6', 5.5, null, null, ['INR (dimensionless) 5.5 above critical high 5']],
    ['1742-6', 900, 'U/L', null, []],
  ])('%s %s %s (comparator %s)', (loinc, value, unit, comparator, reasons) => {
    expect(assessCritical(numericInput(loinc, value, unit, comparator), terminology)).toEqual({
      reasons,
      unitMismatch: null,
    });
  });

  it('adds a reason per critical flag, whatever the value', () => {
    expect(
      assessCritical(numericInput('6690-2', 23.4, '10*3/uL', null, ['HH', 'A']), terminology)
        .reasons,
    ).toEqual(['flag HH']);
    const coded: CriticalInput = {
      code: { system: 'http://loinc.org', code: '5802-4', display: null },
      value: {
        kind: 'CODED',
        numeric: null,
        comparator: null,
        coded: { system: null, code: 'POS', display: 'Positive' },
        text: null,
      },
      unit: null,
      interpretation: [flag('AA')],
    };
    expect(assessCritical(coded, terminology).reasons).toEqual(['flag AA']);
  });

  it('reports a numeric value in a unit the critical ranges of its LOINC do not use', () => {
    expect(assessCritical(numericInput('2823-3', 6.8, 'mg/dL'), terminology)).toEqual({
      reasons: [],
      unitMismatch: { rangeUnits: ['mmol/L'] },
    });
    expect(assessCritical(numericInput('6301-6', 6, '{INR}'), terminology).unitMismatch).toEqual({
      rangeUnits: [null],
    });
  });
});

describe('critical values in normalized results', () => {
  const [bmp, cbc, troponin] = normalizeFixture('oru-r01-v251-nwh-critical.hl7');

  it('marks critical observations by range and by flag', () => {
    expect(bmp?.observations.map((o) => o.critical)).toEqual([false, true]);
    expect(cbc?.observations.map((o) => [o.code.code, o.critical])).toEqual([
      ['6690-2', true], // flag HH, 23.4 is below the WBC critical high of 30
      ['718-7', true], // flag LL and 6.1 below 7.0
      ['777-3', false], // flag H, 612 within 20–1000
    ]);
    expect(troponin?.observations[0]?.critical).toBe(true);
  });

  it('raises one alert per critical observation, with the rule that fired', () => {
    if (!bmp || !cbc || !troponin) throw new Error('three results expected');
    const alerts = [bmp, cbc, troponin].flatMap((r) => criticalAlerts(r, RAISED_AT, terminology));
    expect(alerts.map((a) => [a.loincCode, a.reason, a.value, a.interpretation])).toEqual([
      ['2823-3', 'Potassium 6.8 mmol/L above critical high 6.2 mmol/L', '6.8 mmol/L', 'H'],
      ['6690-2', 'flag HH', '23.4 10*3/uL', 'HH'],
      ['718-7', 'flag LL; Hemoglobin 6.1 g/dL below critical low 7 g/dL', '6.1 g/dL', 'LL'],
      ['10839-9', 'Troponin I >0.5 ng/mL above critical high 0.4 ng/mL', '>0.5 ng/mL', 'H'],
    ]);
  });

  it('fills every field of an alert, with a deterministic id', () => {
    if (!bmp) throw new Error('result expected');
    expect(criticalAlerts(bmp, RAISED_AT, terminology)).toEqual([
      {
        alertId: criticalAlertId(bmp.eventId, 2),
        resultEventId: bmp.eventId,
        sourceSystem: 'lab-gateway/NWH-LAB',
        messageControlId: 'NWH000009',
        patientIdentifier: 'MRN100999',
        patientIdentifierSystem: 'NWH',
        highPriority: false,
        placerOrderNumber: 'PL9901',
        fillerOrderNumber: 'FL9901',
        priority: 'stat',
        observationSetId: 2,
        loincCode: '2823-3',
        display: 'Potassium [Moles/volume] in Serum or Plasma',
        value: '6.8 mmol/L',
        numeric: 6.8,
        unit: 'mmol/L',
        interpretation: 'H',
        reason: 'Potassium 6.8 mmol/L above critical high 6.2 mmol/L',
        observedAt: Date.UTC(2026, 10, 16, 17, 15, 0),
        raisedAt: RAISED_AT,
      },
    ]);
    expect(resultKey(bmp)).toBe('MRN100999');
  });

  it("carries the result's high-priority flag (set by the order rules) on each alert", () => {
    if (!bmp) throw new Error('result expected');
    const alerts = criticalAlerts({ ...bmp, highPriority: true }, RAISED_AT, terminology);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a) => a.highPriority)).toBe(true);
  });

  it('gives both reasons when a flag and a range fire (v2.3 platelets 18, flagged LL)', () => {
    const [, cbc23] = normalizeFixture('oru-r01-v23-nwh-cmp.hl7');
    if (!cbc23) throw new Error('result expected');
    expect(criticalAlerts(cbc23, RAISED_AT, terminology).map((a) => a.reason)).toEqual([
      'flag LL; Platelets 18 10*3/uL below critical low 20 10*3/uL',
    ]);
  });

  it('raises nothing for results without critical values', () => {
    const results = normalizeFixture('oru-r01-v251-nwh-bmp-cbc.hl7');
    expect(results.flatMap((r) => criticalAlerts(r, RAISED_AT, terminology))).toEqual([]);
  });

  it('still alerts, saying so, when the terminology changed since normalization', () => {
    const files = {} as Record<TerminologyFileName, string>;
    for (const name of Object.keys(TERMINOLOGY_FILES) as TerminologyFileName[]) {
      files[name] = readFileSync(join(DEFAULT_TERMINOLOGY_DIR, name), 'utf8');
    }
    files['critical-ranges.csv'] = files['critical-ranges.csv'].replace(/^2823-3,.*\n/m, '');
    files['manifest.json'] = '{"version":"test-no-potassium"}';
    const changed = parseTerminology(files);
    if (!bmp) throw new Error('result expected');
    expect(criticalAlerts(bmp, RAISED_AT, changed)[0]?.reason).toBe(
      'critical when normalized; no rule of terminology test-no-potassium fires for it now',
    );
  });
});
