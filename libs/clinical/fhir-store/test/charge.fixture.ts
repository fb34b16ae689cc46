/**
 * Synthetic charge lines (billing.charges.v1) and engine answers (billing.charge-status.v1) for
 * the ChargeItem tests: invented patients, providers and order numbers; codes and prices in the
 * shape of the charge-master starter set.
 */
import type { ChargeEvent, ChargeStatusEvent } from '@ancillary/contracts';

export const CREATED_AT = Date.parse('2026-12-04T15:30:00Z');

export function chargeLine(eventId: string, fields: Partial<ChargeEvent> = {}): ChargeEvent {
  return {
    eventId,
    chargeKey: 'F1001|30000101|2026-12-04',
    action: 'CHARGE',
    transactionId: `T${eventId.length}${eventId.slice(-8)}`.slice(0, 10),
    reversesTransactionId: null,
    reversesEventId: null,
    sourceKind: 'LAB',
    patient: {
      identifiers: [{ value: 'MRN-C1', system: 'NWH', type: 'MR' }],
      familyName: 'Rivera',
      givenNames: ['Ana'],
      birthDate: '1970-03-15',
      administrativeSex: 'F',
    },
    accountNumber: 'ACC77001',
    visitNumber: 'V9001',
    patientClass: 'O',
    placerOrderNumber: 'PL-C1',
    fillerOrderNumber: 'F1001',
    dateOfService: Date.parse('2026-12-04T09:15:00Z'),
    chargeCode: '30000101',
    description: 'Basic metabolic panel',
    cptHcpcs: '80048',
    modifiers: [],
    revenueCode: '0301',
    department: 'LAB-CHEM',
    quantity: 1,
    unitPriceCents: 4200,
    extendedPriceCents: 4200,
    orderingProvider: { id: '1234567893', familyName: 'Okafor', givenName: 'Ngozi' },
    performingProvider: null,
    diagnoses: [{ code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' }],
    ndc: null,
    sourceEventIds: ['lab-result-1'],
    chargeMasterVersion: '2026.12.0',
    createdAt: CREATED_AT,
    ...fields,
  };
}

/** The credit reversing a charge line (same fields, its own ids). */
export function creditOf(charge: ChargeEvent, eventId: string): ChargeEvent {
  return {
    ...charge,
    eventId,
    action: 'CREDIT',
    transactionId: `C${charge.transactionId.slice(1)}`,
    reversesEventId: charge.eventId,
    reversesTransactionId: charge.transactionId,
    createdAt: charge.createdAt + 60_000,
  };
}

export function answer(
  line: ChargeEvent,
  status: ChargeStatusEvent['status'],
  decidedAt: number,
  controlId = 'DFT1',
): ChargeStatusEvent {
  return {
    eventId: `${line.eventId}:${status}:${controlId}`,
    chargeEventId: line.eventId,
    transactionId: line.transactionId,
    chargeKey: line.chargeKey,
    action: line.action,
    reversesEventId: line.reversesEventId,
    status,
    ackCode: status === 'BILLED' ? 'AA' : 'AR',
    reason: status === 'BILLED' ? null : 'invalid charge code',
    messageControlId: controlId,
    decidedAt,
  };
}
