import { loadTerminology, UnmappedCodeError } from '@ancillary/terminology';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toFhirMedicationRequest } from './fhir-medication-request.mapper';
import { classifyFhirResponse, FhirOrderTransport } from './fhir-order.transport';
import { medicationOrder } from './test/order-events';

const terminology = loadTerminology();

describe('toFhirMedicationRequest', () => {
  it('maps a medication order: RxNorm + NDC + local coding, contained patient, dose, dispense', () => {
    const resource = toFhirMedicationRequest(medicationOrder(), terminology, 'NWH-RX');
    expect(resource).toEqual({
      resourceType: 'MedicationRequest',
      contained: [
        {
          resourceType: 'Patient',
          id: 'patient',
          identifier: [
            {
              type: {
                coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
              },
              system: 'NWH',
              value: 'MRN-T-0001',
            },
            {
              type: {
                coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SS' }],
              },
              system: 'urn:oid:2.16.840.1.113883.4.1',
              value: '9990001',
            },
          ],
          name: [{ use: 'official', family: 'Testpatient', given: ['Alex', 'Jordan'] }],
          birthDate: '1980-02-29',
          gender: 'female',
        },
      ],
      identifier: [
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }],
          },
          system: 'urn:ancillary:placer-order',
          value: 'PLC-3001',
        },
      ],
      status: 'active',
      intent: 'order',
      priority: 'routine',
      medicationCodeableConcept: {
        coding: [
          {
            system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
            code: '197361',
            display: 'amlodipine 5 MG Oral Tablet',
          },
          {
            system: 'http://hl7.org/fhir/sid/ndc',
            code: '99901-0101-30',
            display: 'Amlodipine 5 mg tablet (bottle of 30; synthetic)',
          },
          {
            system: 'http://northwind-hospital.example.org/fhir/CodeSystem/rx-local',
            code: 'AMLO5',
            display: 'Amlodipine 5 mg tab',
          },
        ],
        text: 'amlodipine 5 MG Oral Tablet',
      },
      subject: { reference: '#patient' },
      encounter: { identifier: { value: 'ENC-77' } },
      authoredOn: '2026-01-15T08:30:00.000Z',
      requester: { identifier: { value: '1234567893' }, display: 'Dr Casey Clinician' },
      reasonCode: [
        {
          coding: [
            {
              system: 'http://hl7.org/fhir/sid/icd-10-cm',
              code: 'I10',
              display: 'Essential (primary) hypertension',
            },
          ],
        },
      ],
      dosageInstruction: [
        {
          text: 'Take 1 tablet by mouth once daily',
          timing: {
            code: {
              coding: [
                { system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation', code: 'QD' },
              ],
              text: 'QD',
            },
          },
          route: {
            coding: [{ system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' }],
          },
          doseAndRate: [
            {
              doseQuantity: {
                value: 5,
                unit: 'mg',
                system: 'http://unitsofmeasure.org',
                code: 'mg',
              },
            },
          ],
        },
      ],
      dispenseRequest: {
        quantity: { value: 30, unit: 'TAB' },
        numberOfRepeatsAllowed: 2,
        expectedSupplyDuration: {
          value: 30,
          unit: 'days',
          system: 'http://unitsofmeasure.org',
          code: 'd',
        },
      },
    });
  });

  it('marks a cancellation cancelled and carries the filler number', () => {
    const resource = toFhirMedicationRequest(
      medicationOrder({ action: 'CANCEL', fillerOrderNumber: 'RX-9' }),
      terminology,
      'NWH-RX',
    );
    expect(resource.status).toBe('cancelled');
    expect(resource.identifier[1]).toEqual({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }] },
      value: 'RX-9',
    });
  });

  it('throws UnmappedCodeError for a drug outside the formulary', () => {
    expect(() =>
      toFhirMedicationRequest(
        medicationOrder({ code: { system: null, code: '1', display: null } }),
        terminology,
        'NWH-RX',
      ),
    ).toThrow(UnmappedCodeError);
  });
});

describe('classifyFhirResponse', () => {
  const outcome = (text: string) => ({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'invalid', diagnostics: text }],
  });
  it.each([
    [201, 'accepted', { resourceType: 'MedicationRequest', id: 'rx-1' }, null, 'rx-1'],
    [
      200,
      'accepted',
      {
        resourceType: 'MedicationRequest',
        id: 'rx-1',
        identifier: [
          {
            type: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }],
            },
            value: 'F-1',
          },
        ],
      },
      null,
      'F-1',
    ],
    [422, 'rejected', outcome('Drug not on formulary'), 'Drug not on formulary', null],
    [
      400,
      'rejected',
      { resourceType: 'OperationOutcome', issue: [{ details: { text: 'Bad JSON' } }] },
      'Bad JSON',
      null,
    ],
    [409, 'rejected', undefined, 'HTTP 409', null],
    [412, 'rejected', undefined, 'HTTP 412', null],
    [404, 'rejected', undefined, 'HTTP 404', null],
    [503, 'transient', outcome('maintenance'), 'maintenance', null],
    [429, 'transient', undefined, 'HTTP 429', null],
    [408, 'transient', undefined, 'HTTP 408', null],
    [401, 'transient', undefined, 'HTTP 401', null],
  ])('HTTP %i → %s', (status, expected, body, reason, filler) => {
    expect(classifyFhirResponse(status, body)).toEqual({
      outcome: expected,
      status,
      reason,
      fillerOrderNumber: filler,
    });
  });
});

describe('FhirOrderTransport', () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: unknown;
  }
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(201).end();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
        });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('creates conditionally with If-None-Exist on the placer identifier', async () => {
    answer = (res) =>
      res
        .writeHead(201, { 'content-type': 'application/fhir+json' })
        .end(JSON.stringify({ resourceType: 'MedicationRequest', id: 'rx-42' }));
    const order = medicationOrder();
    const transport = new FhirOrderTransport({ baseUrl: base, timeoutMs: 5_000 });
    const result = await transport.send(
      order,
      toFhirMedicationRequest(order, terminology, 'NWH-RX'),
      'O123',
    );
    expect(result).toEqual({
      outcome: 'accepted',
      status: 201,
      reason: null,
      fillerOrderNumber: 'rx-42',
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/fhir/MedicationRequest',
      headers: {
        'content-type': 'application/fhir+json',
        'if-none-exist': 'identifier=urn%3Aancillary%3Aplacer-order|PLC-3001',
        'x-request-id': 'O123',
      },
      body: { resourceType: 'MedicationRequest', status: 'active' },
    });
  });

  it('cancels with a conditional update by identifier', async () => {
    answer = (res) => res.writeHead(200).end('{"resourceType":"MedicationRequest","id":"rx-42"}');
    const order = medicationOrder({ action: 'CANCEL' });
    const transport = new FhirOrderTransport({ baseUrl: base, timeoutMs: 5_000 });
    const result = await transport.send(
      order,
      toFhirMedicationRequest(order, terminology, 'NWH-RX'),
    );
    expect(result.outcome).toBe('accepted');
    expect(seen[0]).toMatchObject({
      method: 'PUT',
      url: '/fhir/MedicationRequest?identifier=urn%3Aancillary%3Aplacer-order|PLC-3001',
      body: { status: 'cancelled' },
    });
    expect(seen[0]!.headers['if-none-exist']).toBeUndefined();
  });

  it('reports a rejection with the OperationOutcome text', async () => {
    answer = (res) =>
      res.writeHead(422).end(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [
            { severity: 'error', code: 'business-rule', diagnostics: 'Prescriber not licensed' },
          ],
        }),
      );
    const order = medicationOrder();
    const result = await new FhirOrderTransport({ baseUrl: base, timeoutMs: 5_000 }).send(
      order,
      toFhirMedicationRequest(order, terminology, 'NWH-RX'),
    );
    expect(result).toEqual({
      outcome: 'rejected',
      status: 422,
      reason: 'Prescriber not licensed',
      fillerOrderNumber: null,
    });
  });

  it('is transient when the server does not answer in time', async () => {
    answer = () => undefined; // never answers
    const order = medicationOrder();
    const result = await new FhirOrderTransport({ baseUrl: base, timeoutMs: 200 }).send(
      order,
      toFhirMedicationRequest(order, terminology, 'NWH-RX'),
    );
    expect(result.outcome).toBe('transient');
    expect(result.status).toBeNull();
    expect(result.reason).toMatch(/within 200 ms/);
  });

  it('is transient when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const order = medicationOrder();
    const result = await new FhirOrderTransport({
      baseUrl: `http://127.0.0.1:${port}/fhir`,
      timeoutMs: 2_000,
    }).send(order, toFhirMedicationRequest(order, terminology, 'NWH-RX'));
    expect(result).toMatchObject({ outcome: 'transient', status: null });
    expect(result.reason).toMatch(/unreachable/);
  });
});
