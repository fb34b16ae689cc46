import type { ValueContract } from '@ancillary/contracts';

/** A small contract for exercising the messaging core without a clinical payload. */
export interface TestEvent {
  id: string;
  count: number;
  note: string | null;
}

function contract(fields: unknown[]): ValueContract {
  return {
    name: 'health.ancillary.test.TestEvent',
    source: 'libs/messaging/kafka/test/test-contracts.ts',
    schema: JSON.stringify({
      type: 'record',
      name: 'TestEvent',
      namespace: 'health.ancillary.test',
      fields,
    }),
  };
}

const v1Fields = [
  { name: 'id', type: 'string' },
  { name: 'count', type: 'int' },
  { name: 'note', type: ['null', 'string'], default: null },
];

export const TestEventV1 = contract(v1Fields);

/** Backward compatible: a new optional field with a default. */
export const TestEventV2Compatible = contract([
  ...v1Fields,
  { name: 'unit', type: 'string', default: '1' },
]);

/** Not backward compatible: a new field without a default cannot be filled in when reading v1 data. */
export const TestEventV2Breaking = contract([...v1Fields, { name: 'priority', type: 'string' }]);
