/** Small synthetic HL7 v2.5.1 messages, written inline: no patient data, only DOE^JANE. */

export interface OruOptions {
  controlId?: string;
  /** Value MSH-15 / MSH-16 (accept / application acknowledgment type): enhanced mode. */
  acceptAck?: 'AL' | 'NE' | 'ER' | 'SU';
  applicationAck?: 'AL' | 'NE' | 'ER' | 'SU';
  messageType?: string;
  /** Extra OBX-5 text, to make a message of a given size. */
  note?: string;
}

export function oru(options: OruOptions = {}): string {
  const controlId = options.controlId ?? 'MSG00001';
  const enhanced =
    options.acceptAck || options.applicationAck
      ? `|||${options.acceptAck ?? ''}|${options.applicationAck ?? ''}`
      : '';
  return [
    `MSH|^~\\&|LIS|LAB|EHR|HOSP|20261125120000||${options.messageType ?? 'ORU^R01'}|${controlId}|P|2.5.1${enhanced}`,
    'PID|1||12345^^^HOSP^MR||DOE^JANE||19800101|F',
    'OBR|1|ORD0001|FIL0001|2345-7^Glucose^LN|||20261125113000',
    'OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|70-99|N|||F',
    ...(options.note === undefined ? [] : [`NTE|1||${options.note}`]),
    '',
  ].join('\r');
}

/** `count` messages with control ids MSG00001, MSG00002, … */
export function orus(count: number, options: OruOptions = {}): string[] {
  return Array.from({ length: count }, (_, i) =>
    oru({ ...options, controlId: `MSG${String(i + 1).padStart(5, '0')}` }),
  );
}
