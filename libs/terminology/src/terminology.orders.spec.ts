import { CPT_SYSTEM, LOINC_SYSTEM, RXNORM_SYSTEM } from './code-systems';
import { UnmappedCodeError } from './terminology.errors';
import { loadTerminology, parseTerminology } from './terminology.loader';
import { shippedFiles, withRows } from './test/terminology-files';

function unmapped(fn: () => unknown): UnmappedCodeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UnmappedCodeError) return error;
    throw error;
  }
  throw new Error('expected an UnmappedCodeError');
}

describe('Terminology: orders out, results back', () => {
  const t = loadTerminology();

  describe('routeOrder (shipped routes)', () => {
    it.each([
      ['LABORATORY', LOINC_SYSTEM, '51990-0', 'lis-main', 'NWH-LAB'],
      ['IMAGING', CPT_SYSTEM, '71046', 'ris-main', 'NWH-RAD'],
      ['PHARMACY', RXNORM_SYSTEM, '197361', 'pharmacy-main', 'NWH-RX'],
    ] as const)('routes %s %s %s to %s (%s)', (category, system, code, destination, facility) => {
      expect(t.routeOrder(category, { system, code })).toMatchObject({
        category,
        destination,
        facility,
      });
    });

    it('accepts an HL7 v2 system name for the URI', () => {
      expect(t.routeOrder('IMAGING', { system: 'C4', code: '70450' }).destination).toBe('ris-main');
    });

    it('refuses a code no row covers, telling the analyst what to add where', () => {
      const error = unmapped(() =>
        t.routeOrder('IMAGING', { system: LOINC_SYSTEM, code: '24627-2' }),
      );
      expect(error).toMatchObject({
        kind: 'route',
        facility: null,
        code: '24627-2',
        system: LOINC_SYSTEM,
        retriable: false,
        terminologyVersion: t.version,
      });
      expect(error.message).toBe(
        'no route for IMAGING code 24627-2 (http://loinc.org) in order-routes.csv; add a row for this code, its system (code *), or the category (* *)',
      );
      expect(
        unmapped(() => t.routeOrder('PHARMACY', { system: null, code: 'X' })).message,
      ).toContain('no route for PHARMACY code X (no code system)');
    });
  });

  describe('routeOrder precedence (fixture routes)', () => {
    const files = shippedFiles();
    const header = files['order-routes.csv'].split('\n')[0] ?? '';
    const routed = parseTerminology({
      ...files,
      'order-routes.csv': [
        header,
        'LABORATORY,*,*,lis-any,EAST-LAB,fallback',
        'LABORATORY,http://loinc.org,*,lis-main,NWH-LAB,LOINC',
        'LABORATORY,http://loinc.org,10839-9,lis-stat,NWH-LAB,troponin to the stat lab',
        '',
      ].join('\n'),
    });

    it('prefers system and code, then system and *, then * and *, whatever the row order', () => {
      const route = (system: string | null, code: string): string =>
        routed.routeOrder('LABORATORY', { system, code }).destination;
      expect(route(LOINC_SYSTEM, '10839-9')).toBe('lis-stat');
      expect(route(LOINC_SYSTEM, '2345-7')).toBe('lis-main');
      expect(route('http://example.org/other', '2345-7')).toBe('lis-any');
      expect(route(null, 'GLU')).toBe('lis-any');
    });

    it('routes per category: a lab wildcard does not route imaging', () => {
      expect(
        unmapped(() => routed.routeOrder('IMAGING', { system: CPT_SYSTEM, code: '71046' })).kind,
      ).toBe('route');
    });
  });

  describe('orderRule', () => {
    it.each([
      ['routine', 'ROUTINE', false],
      ['urgent', 'ROUTINE', false],
      ['asap', 'STAT', true],
      ['stat', 'STAT', true],
      ['STAT', 'STAT', true],
      [' Asap ', 'STAT', true],
      ['S', 'STAT', true],
      ['A', 'STAT', true],
      ['R', 'ROUTINE', false],
    ])('%j → lane %s, high priority result %s', (priority, lane, high) => {
      expect(t.orderRule(priority)).toMatchObject({ lane, highPriorityResult: high });
    });

    it.each([null, undefined, '', '  ', 'whenever'])(
      'treats %j as routine (the conservative lane)',
      (priority) => {
        expect(t.orderRule(priority).priority).toBe('routine');
      },
    );
  });

  describe('labOrderCode', () => {
    it('prefers the orderable (a panel) with the LOINC', () => {
      expect(t.labOrderCode('NWH-LAB', '51990-0')).toEqual({
        localCode: 'BMP',
        localSystem: 'L',
        localDisplay: 'Basic metabolic panel',
        code: { system: LOINC_SYSTEM, code: '51990-0', display: 'Basic metabolic panel - Blood' },
      });
      // aPTT is both an orderable and a lab code: the orderable row is what the LIS expects.
      expect(t.labOrderCode('NWH-LAB', '3173-2').localDisplay).toBe(
        'Activated partial thromboplastin time',
      );
    });

    it('falls back to a single lab code with the LOINC, in the facility own system', () => {
      expect(t.labOrderCode('NWH-LAB', '2345-7')).toMatchObject({
        localCode: 'GLU',
        localSystem: 'L',
      });
      expect(t.labOrderCode('EAST-LAB', '14682-9')).toMatchObject({
        localCode: '1006',
        localSystem: '99EAST',
        localDisplay: 'CREATININE',
      });
    });

    it('refuses a LOINC the facility has no row for, naming the files', () => {
      const error = unmapped(() => t.labOrderCode('EAST-LAB', '1751-7'));
      expect(error).toMatchObject({ kind: 'orderable', facility: 'EAST-LAB', code: '1751-7' });
      expect(error.message).toBe(
        'no orderable or lab code of facility EAST-LAB maps to LOINC 1751-7; add a row to orderables.csv (or lab-codes.csv for a single test)',
      );
      expect(unmapped(() => t.labOrderCode('NOPE', '2345-7')).message).toContain(
        'the facility is not in facilities.csv',
      );
    });
  });

  describe('imaging procedures', () => {
    it('ships the ten studies of the starter set', () => {
      expect(t.imagingProcedures('NWH-RAD').map((p) => [p.cptCode, p.modality])).toEqual([
        ['71046', 'DX'],
        ['70450', 'CT'],
        ['74177', 'CT'],
        ['70551', 'MR'],
        ['76700', 'US'],
        ['77067', 'MG'],
        ['73562', 'DX'],
        ['71250', 'CT'],
        ['76770', 'US'],
        ['72148', 'MR'],
      ]);
      expect(t.imagingProcedures('NWH-LAB')).toEqual([]);
      expect(() => t.imagingProcedures('NOPE')).toThrow(RangeError);
    });

    it('gives the outbound code of a CPT', () => {
      expect(t.imagingOrderCode('NWH-RAD', '71046')).toEqual({
        localCode: 'XRCH2V',
        localSystem: 'L',
        localDisplay: 'XR chest PA and lateral',
        code: {
          system: CPT_SYSTEM,
          code: '71046',
          display: 'Radiologic examination, chest; 2 views',
        },
      });
      const error = unmapped(() => t.imagingOrderCode('NWH-RAD', '99999'));
      expect(error).toMatchObject({
        kind: 'imaging-procedure',
        facility: 'NWH-RAD',
        code: '99999',
      });
      expect(error.message).toBe(
        'no imaging procedure of facility NWH-RAD has CPT 99999; add a row to imaging-procedures.csv',
      );
    });

    it('maps an inbound local procedure code, with its system or none', () => {
      expect(t.mapImagingProcedure('NWH-RAD', 'CTHDWO', 'L').cptCode).toBe('70450');
      expect(t.mapImagingProcedure('NWH-RAD', ' CTHDWO ').cptCode).toBe('70450');
      const wrongSystem = unmapped(() => t.mapImagingProcedure('NWH-RAD', 'CTHDWO', '99RIS'));
      expect(wrongSystem.message).toMatch(
        /imaging-procedures\.csv line 3 maps "CTHDWO" in system L only$/,
      );
    });

    it('accepts a CPT sent as such only when a row of the facility has it', () => {
      expect(t.mapImagingProcedure('NWH-RAD', '74177', 'C4').localCode).toBe('CTAPW');
      expect(t.mapImagingProcedure('NWH-RAD', '74177', 'CPT').localCode).toBe('CTAPW');
      const error = unmapped(() => t.mapImagingProcedure('NWH-RAD', '74178', 'C4'));
      expect(error).toMatchObject({ kind: 'imaging-procedure', system: 'C4' });
      expect(error.message).toBe(
        'CPT 74178 sent by sending facility NWH-RAD is not in imaging-procedures.csv for it; add a row',
      );
    });

    it('refuses an unknown local code or facility', () => {
      expect(unmapped(() => t.mapImagingProcedure('NWH-RAD', 'XRSKULL', 'L')).message).toBe(
        'no CPT mapping for imaging procedure "XRSKULL" (system L) from sending facility NWH-RAD; add a row to imaging-procedures.csv',
      );
      expect(unmapped(() => t.mapImagingProcedure('NOPE', 'CTHDWO')).message).toContain(
        'the facility is not in facilities.csv',
      );
    });

    it('sends the first row of a CPT outbound when several local codes share it', () => {
      const files = shippedFiles();
      const more = parseTerminology({
        ...files,
        'imaging-procedures.csv': withRows(
          files['imaging-procedures.csv'],
          'NWH-RAD,XRKN3VB,L,XR knee 3 views bilateral,73562,"Radiologic examination, knee; 3 views",DX,50',
        ),
      });
      expect(more.imagingOrderCode('NWH-RAD', '73562').localCode).toBe('XRKN3V');
      expect(more.mapImagingProcedure('NWH-RAD', 'XRKN3VB').defaultModifiers).toEqual(['50']);
    });
  });

  describe('formulary', () => {
    it('ships RxNorm clinical drugs with synthetic 11-digit NDCs', () => {
      const drugs = t.formulary('NWH-RX');
      expect(drugs.length).toBeGreaterThanOrEqual(10);
      for (const d of drugs) expect(d.ndc).toMatch(/^\d{5}-\d{4}-\d{2}$/);
      expect(drugs.map((d) => d.rxnormCode)).toEqual(
        expect.arrayContaining(['197361', '314076', '861007', '617312', '313782', '308182']),
      );
      expect(() => t.formulary('NOPE')).toThrow(RangeError);
    });

    it('gives the NDC and local code an ordered RxNorm is dispensed as', () => {
      expect(t.formularyByRxnorm('NWH-RX', '197361')).toMatchObject({
        localCode: 'AMLO5',
        rxnormDisplay: 'amlodipine 5 MG Oral Tablet',
        ndc: '99901-0101-30',
        dispenseUnit: 'TAB',
        doseForm: 'Oral Tablet',
      });
      const error = unmapped(() => t.formularyByRxnorm('NWH-RX', '1049621'));
      expect(error).toMatchObject({ kind: 'formulary', facility: 'NWH-RX', code: '1049621' });
      expect(error.message).toBe(
        'RxNorm 1049621 is not in the formulary of pharmacy NWH-RX; add a row with its NDC to formulary.csv',
      );
    });

    it.each(['99901-0101-30', '99901010130', ' 99901-0101-30 '])(
      'maps the dispensed NDC %j back to its RxNorm',
      (ndc) => {
        expect(t.formularyByNdc('NWH-RX', ndc)?.rxnormCode).toBe('197361');
      },
    );

    it('normalises 10-digit NDC forms before looking up', () => {
      const files = shippedFiles();
      const more = parseTerminology({
        ...files,
        'formulary.csv': withRows(
          files['formulary.csv'],
          'NWH-RX,AMLO5B,Amlodipine 5 mg tab (other labeler),197361,amlodipine 5 MG Oral Tablet,9990-1234-56,Amlodipine 5 mg (synthetic),TAB,Oral Tablet',
        ),
      });
      expect(more.formularyByNdc('NWH-RX', '9990-1234-56')?.localCode).toBe('AMLO5B');
      expect(more.formularyByNdc('NWH-RX', '09990-1234-56')?.localCode).toBe('AMLO5B');
      expect(more.formularyByNdc('NWH-RX', '09990123456')?.localCode).toBe('AMLO5B');
      // Outbound, the first row of an RxNorm is the one dispensed.
      expect(more.formularyByRxnorm('NWH-RX', '197361').localCode).toBe('AMLO5');
    });

    it('gives undefined for an NDC not in the formulary, and throws for an unknown pharmacy', () => {
      expect(t.formularyByNdc('NWH-RX', '00000-0000-00')).toBeUndefined();
      expect(t.formularyByNdc('NWH-RX', 'not an ndc')).toBeUndefined();
      expect(t.formularyByNdc('NWH-LAB', '99901-0101-30')).toBeUndefined();
      expect(unmapped(() => t.formularyByNdc('NOPE', '99901-0101-30')).kind).toBe('formulary');
    });
  });

  it('lists the routes and rules, in file order', () => {
    expect(t.orderRoutes().map((r) => r.category)).toEqual(['LABORATORY', 'IMAGING', 'PHARMACY']);
    expect(t.orderRules().map((r) => r.priority)).toEqual(['routine', 'urgent', 'asap', 'stat']);
  });

  it('knows the new radiology and pharmacy facilities', () => {
    expect(t.facility('NWH-RAD')).toMatchObject({ sendingApplication: 'SIMRIS' });
    expect(t.facility('NWH-RX')).toMatchObject({ sendingApplication: 'SIMRX' });
    expect(t.codeSystemUri('NWH-RAD', 'L')).toBe(
      'http://northwind-hospital.example.org/fhir/CodeSystem/rad-local',
    );
  });
});
