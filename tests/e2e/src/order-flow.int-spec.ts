/**
 * Orders out and results back, end to end over the real stack: orders POSTed to the FHIR API
 * reach the simulated LIS, RIS and pharmacies as HL7 v2 over MLLP (or as FHIR for the API-first
 * pharmacy) with the codes mapped to theirs; their results, reports and dispenses come back
 * through the gateways, the normalizer and the ehr-writer into the chart, linked to the order.
 * Then the hard cases: an ancillary down for a while, a rejection, a cancellation, and a STAT
 * order overtaking routine ones.
 */
import { DeadLetterHeaders, Topics, deadLetterTopicOf } from '@ancillary/contracts';
import { Messaging } from '@ancillary/messaging-kafka';
import type { OrderOutcome, PlacedOrder, SyntheticPatient } from '@ancillary/simulators';
import { captureLogger, readTopic, testStack, waitFor } from '@ancillary/testing';
import { randomBytes } from 'node:crypto';
import {
  FHIR_PHARMACY_RXNORM,
  startOrderPlatform,
  type OrderPlatform,
} from './order-platform.fixture';

type Json = Record<string, unknown>;

const RESULT_PRIORITY_EXTENSION =
  'http://ancillary-hub.example.org/fhir/StructureDefinition/result-priority';

const { logger } = captureLogger('order-flow', 'warn');
let platform: OrderPlatform;

beforeAll(async () => {
  platform = await startOrderPlatform(logger);
}, 180_000);

afterAll(async () => {
  await (platform as OrderPlatform | undefined)?.stop();
}, 60_000);

/** 10 characters unique to this run: MRNs and placer numbers stay within HL7's lengths. */
const shortId = () =>
  `${Date.now().toString(36).slice(-6)}${randomBytes(2).toString('hex')}`.toUpperCase();

let patients = 0;
/** A new synthetic patient in the chart; its MRN is unique to this run (and the Kafka key). */
async function newPatient(): Promise<{ id: string; mrn: string }> {
  patients += 1;
  const mrn = `M${shortId()}`;
  const patient: SyntheticPatient = {
    mrn,
    assigningAuthority: 'NWH',
    familyName: 'Ordertest',
    givenName: `Pat${patients}`,
    middleName: '',
    birthDate: '19700315',
    sex: 'F',
    patientClass: 'O',
    location: ['OPC', '', ''],
  };
  return { id: await platform.ehr.ensurePatient(patient), mrn };
}

const placer = (tag: string) => `P${tag}${shortId()}`;

/** Waits until the order reached `state` in the chart. */
function outcomeOf(
  order: PlacedOrder,
  state: OrderOutcome['state'],
  timeoutMs = 60_000,
): Promise<OrderOutcome> {
  return waitFor(
    async () => {
      const outcome = await platform.ehr.outcome(order);
      return outcome.state === state ? outcome : undefined;
    },
    {
      timeoutMs,
      intervalMs: 250,
      description: `${order.resourceType} ${order.placerOrderNumber} ${state}`,
    },
  );
}

async function resultOf(outcome: OrderOutcome): Promise<Json> {
  const [type, id] = (outcome.resultReference ?? '/').split('/');
  return platform.ehr.read(type!, id!);
}

const referencesOf = (value: unknown): string[] =>
  Array.isArray(value) ? (value as { reference?: string }[]).map((r) => r.reference ?? '') : [];

describe('orders out, results back', () => {
  it('lab: the LIS gets ORM^O01 with its own code; the report is based on the order, which is completed', async () => {
    const patient = await newPatient();
    const order = await platform.ehr.placeLabOrder({
      patientId: patient.id,
      placerOrderNumber: placer('L'),
      test: { code: '51990-0', display: 'Basic metabolic panel - Blood' },
      specimenType: 'SER',
      reasons: [{ code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' }],
    });
    expect(order.httpStatus).toBe(201);

    const outcome = await outcomeOf(order, 'completed');
    const arrived = platform.lis
      .received()
      .filter((r) => r.placerOrderNumber === order.placerOrderNumber);
    expect(arrived).toHaveLength(1);
    expect(arrived[0]).toMatchObject({ messageType: 'ORM^O01', orderControl: 'NW', code: 'BMP' });
    expect(arrived[0]!.patientMrn).toBe(patient.mrn);

    const report = await resultOf(outcome);
    expect(report['resourceType']).toBe('DiagnosticReport');
    expect(referencesOf(report['basedOn'])).toEqual([`ServiceRequest/${order.id}`]);
    expect(referencesOf(report['result']).length).toBeGreaterThan(0);
    expect(outcome.status).toBe('completed');
    // not STAT: no high-priority flag
    expect(JSON.stringify(report)).not.toContain(RESULT_PRIORITY_EXTENSION);

    // a conditional create with the same placer number returns the order, never a second one
    const again = await platform.ehr.placeLabOrder({
      patientId: patient.id,
      placerOrderNumber: order.placerOrderNumber,
      test: { code: '51990-0' },
    });
    expect(again).toMatchObject({ id: order.id, httpStatus: 200 });
    const same = await platform.ehr.search(
      'ServiceRequest',
      `identifier=${encodeURIComponent(order.placerOrderNumber)}`,
    );
    expect(same).toHaveLength(1);
  });

  it('imaging: the RIS gets ORM^O01; the report keeps its line breaks and is based on the order', async () => {
    const patient = await newPatient();
    const order = await platform.ehr.placeImagingOrder({
      patientId: patient.id,
      placerOrderNumber: placer('I'),
      procedure: { code: '71046', display: 'Radiologic examination, chest; 2 views' },
      reasons: [{ code: 'R05.9', display: 'Cough, unspecified' }],
    });
    const outcome = await outcomeOf(order, 'completed');
    const arrived = platform.ris
      .received()
      .filter((r) => r.placerOrderNumber === order.placerOrderNumber);
    expect(arrived).toHaveLength(1);
    expect(arrived[0]).toMatchObject({
      messageType: 'ORM^O01',
      orderControl: 'NW',
      code: 'XRCH2V',
    });

    const report = await resultOf(outcome);
    expect(referencesOf(report['basedOn'])).toEqual([`ServiceRequest/${order.id}`]);
    const categories = JSON.stringify(report['category']);
    expect(categories).toMatch(/imaging|LP29684-5|RAD/i);
    expect(typeof report['conclusion']).toBe('string');
    const forms = report['presentedForm'] as { contentType: string; data: string }[];
    expect(forms[0]!.contentType).toMatch(/^text\/plain/);
    const text = Buffer.from(forms[0]!.data, 'base64').toString('utf8');
    expect(text.split('\n').length).toBeGreaterThan(2); // the RIS's lines, not one run-on line
    expect(text).not.toMatch(/\\\.br\\|\\X0D\\/); // formatting escapes turned into text
    if (report['imagingStudy']) {
      const [study] = referencesOf(report['imagingStudy']);
      const imagingStudy = await platform.ehr.read('ImagingStudy', study!.split('/')[1]!);
      expect(referencesOf(imagingStudy['basedOn'])).toEqual([`ServiceRequest/${order.id}`]);
    }
  });

  it('pharmacy over MLLP: RDE^O11 out, RDS^O13 back as a MedicationDispense for the request', async () => {
    const patient = await newPatient();
    const order = await platform.ehr.placeMedicationOrder({
      patientId: patient.id,
      placerOrderNumber: placer('M'),
      medication: { code: '197361', display: 'amlodipine 5 MG Oral Tablet' },
      dose: { value: 5, unit: 'mg' },
      route: { code: '26643006', display: 'Oral route' },
      frequency: 'QD',
      quantity: { value: 30, unit: 'TAB' },
      daysSupply: 30,
    });
    const outcome = await outcomeOf(order, 'completed');
    const arrived = platform.pharmacy
      .received()
      .filter((r) => r.placerOrderNumber === order.placerOrderNumber);
    expect(arrived).toHaveLength(1);
    expect(arrived[0]).toMatchObject({ messageType: 'RDE^O11', orderControl: 'NW' });

    const dispense = await resultOf(outcome);
    expect(dispense['resourceType']).toBe('MedicationDispense');
    expect(referencesOf(dispense['authorizingPrescription'])).toEqual([
      `MedicationRequest/${order.id}`,
    ]);
    const codings = JSON.stringify(dispense['medicationCodeableConcept']);
    expect(codings).toContain('99901-0101-30'); // the NDC dispensed
    expect(codings).toContain('197361'); // with its RxNorm code
    expect((dispense['quantity'] as { value: number }).value).toBeGreaterThan(0);
  });

  it('pharmacy over FHIR: a MedicationRequest POSTed to the pharmacy platform, its MedicationDispense back', async () => {
    const patient = await newPatient();
    const order = await platform.ehr.placeMedicationOrder({
      patientId: patient.id,
      placerOrderNumber: placer('F'),
      medication: { code: FHIR_PHARMACY_RXNORM, display: 'lisinopril 10 MG Oral Tablet' },
      dose: { value: 10, unit: 'mg' },
      frequency: 'QD',
      quantity: { value: 30, unit: 'TAB' },
      daysSupply: 30,
    });
    const outcome = await outcomeOf(order, 'completed');
    expect(
      platform.fhirPharmacy
        .received()
        .filter((r) => r.placerOrderNumber === order.placerOrderNumber),
    ).toHaveLength(1);
    expect(platform.pharmacy.order(order.placerOrderNumber)).toBeUndefined(); // routed as data says
    const dispense = await resultOf(outcome);
    expect(referencesOf(dispense['authorizingPrescription'])).toEqual([
      `MedicationRequest/${order.id}`,
    ]);
    expect(JSON.stringify(dispense['medicationCodeableConcept'])).toContain(FHIR_PHARMACY_RXNORM);
  });
});

describe('when things go wrong', () => {
  it('RIS down: the orders wait in Kafka, then all arrive once, in the order they were placed', async () => {
    const patient = await newPatient();
    await platform.ris.down();
    const orders: PlacedOrder[] = [];
    try {
      for (const code of ['71046', '70450', '74177']) {
        orders.push(
          await platform.ehr.placeImagingOrder({
            patientId: patient.id,
            placerOrderNumber: placer('Q'),
            procedure: { code },
          }),
        );
      }
      // The gateway is trying and failing meanwhile: nothing is accepted while the RIS is away.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      for (const order of orders) {
        expect((await platform.ehr.outcome(order)).state).toBe('pending');
      }
    } finally {
      await platform.ris.up();
    }
    for (const order of orders) await outcomeOf(order, 'completed', 90_000);
    const placers = orders.map((o) => o.placerOrderNumber);
    const arrivals = platform.ris
      .received()
      .filter((r) => placers.includes(r.placerOrderNumber) && r.orderControl === 'NW');
    expect(arrivals.map((r) => r.placerOrderNumber)).toEqual(placers);
    expect(arrivals.every((r) => !r.duplicate)).toBe(true);
  }, 120_000);

  it('an AR from the LIS: the order is dead-lettered with the reason and the ServiceRequest shows the rejection', async () => {
    const patient = await newPatient();
    const number = placer('R');
    platform.lis.setScript(`reject:Specimen type not accepted here@placer=${number}`);
    try {
      const order = await platform.ehr.placeLabOrder({
        patientId: patient.id,
        placerOrderNumber: number,
        test: { code: '24323-8' },
      });
      const outcome = await outcomeOf(order, 'rejected');
      expect(outcome.rejection).toContain('Specimen type not accepted here');

      const stack = testStack();
      const reader = new Messaging(
        { service: 'order-flow-dlt', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
        logger,
      );
      try {
        const ours = (r: { key: Buffer | null }) => r.key?.toString() === patient.mrn;
        const letters = await readTopic(
          reader.kafka,
          deadLetterTopicOf(Topics.clinicalOrders.name),
          {
            until: (records) => records.some(ours),
            timeoutMs: 60_000,
            description: 'the rejected order in the dead-letter topic',
          },
        );
        const letter = letters.find(ours)!;
        expect(letter.headers?.[DeadLetterHeaders.errorMessage]?.toString()).toContain(
          'Specimen type not accepted here',
        );
      } finally {
        await reader.close();
      }
    } finally {
      platform.lis.setScript('');
    }
  }, 120_000);

  it('a cancellation reaches the LIS as ORC-1 CA, and the order is revoked with no result', async () => {
    const patient = await newPatient();
    const order = await platform.ehr.placeLabOrder({
      patientId: patient.id,
      placerOrderNumber: placer('C'),
      test: { code: '58410-2' },
    });
    await outcomeOf(order, 'accepted');
    await platform.ehr.cancel(order);
    const cancel = await waitFor(
      () =>
        platform.lis
          .received()
          .find((r) => r.placerOrderNumber === order.placerOrderNumber && r.orderControl === 'CA'),
      { timeoutMs: 60_000, description: 'ORC-1 CA at the LIS' },
    );
    expect(cancel.fillerOrderNumber).toBeTruthy(); // the LIS's own number, from its acceptance
    await waitFor(() => platform.lis.order(order.placerOrderNumber)?.status === 'cancelled', {
      description: 'the LIS took the cancellation',
    });
    const outcome = await outcomeOf(order, 'cancelled');
    expect(outcome.status).toBe('revoked');
    await new Promise((resolve) => setTimeout(resolve, 2500)); // past the LIS's result delay
    expect(
      await platform.ehr.search('DiagnosticReport', `based-on=ServiceRequest/${order.id}`),
    ).toHaveLength(0);
  }, 90_000);

  it('a STAT order overtakes routine orders queued for the same LIS, and its result is flagged', async () => {
    const patient = await newPatient();
    const routineNumbers = [placer('S1'), placer('S2'), placer('S3')];
    // The LIS is slow with the first routine order: the others queue behind it.
    platform.lis.setScript(`delay:6000@placer=${routineNumbers[0]}`);
    try {
      const routine: PlacedOrder[] = [];
      for (const number of routineNumbers) {
        routine.push(
          await platform.ehr.placeLabOrder({
            patientId: patient.id,
            placerOrderNumber: number,
            test: { code: '24331-1' },
          }),
        );
      }
      await waitFor(
        () => platform.lis.received().some((r) => r.placerOrderNumber === routineNumbers[0]),
        {
          description: 'the first routine order at the LIS',
        },
      );
      const stat = await platform.ehr.placeLabOrder({
        patientId: patient.id,
        placerOrderNumber: placer('ST'),
        priority: 'stat',
        test: { code: '34528-0' },
      });
      const outcome = await outcomeOf(stat, 'completed', 90_000);
      for (const order of routine) await outcomeOf(order, 'completed', 90_000);

      const sequence = platform.lis
        .received()
        .filter((r) => r.orderControl === 'NW')
        .map((r) => r.placerOrderNumber)
        .filter((n) => n === stat.placerOrderNumber || routineNumbers.includes(n));
      expect(sequence).toEqual([
        routineNumbers[0],
        stat.placerOrderNumber,
        routineNumbers[1],
        routineNumbers[2],
      ]);
      expect(platform.lis.order(stat.placerOrderNumber)?.stat).toBe(true);

      const report = await resultOf(outcome);
      const flag = (report['extension'] as { url: string; valueCode?: string }[] | undefined)?.find(
        (e) => e.url === RESULT_PRIORITY_EXTENSION,
      );
      expect(flag?.valueCode).toBe('high');
      const routineReport = await resultOf(await platform.ehr.outcome(routine[1]!));
      expect(JSON.stringify(routineReport)).not.toContain(RESULT_PRIORITY_EXTENSION);
    } finally {
      platform.lis.setScript('');
    }
  }, 150_000);
});
