/**
 * Radiology reports as a RIS sends them, for the simulated RIS: seeded report texts per
 * procedure (the CPT codes of imaging-procedures.csv, with a modality fallback), mostly normal,
 * some with findings; and the ORU^R01 (v2.3 by default) that carries one:
 *
 * - the report body as several OBX TX lines (examination, history, technique, comparison,
 *   findings), OBX-3 `18782-3^Study observation^LN` — or, in the older style, the procedure code
 *   with the `&GDT` suffix;
 * - the impression as one FT OBX whose lines are joined by `\.br\`, OBX-3
 *   `19005-8^Impression^LN` (or `&IMP`);
 * - the DICOM Study Instance UID, OBX-3 `113014^Study Instance UID^DCM` (a synthetic UID under
 *   the 1.2.826.0.1.3680043.8.498 root, as test tools generate them);
 * - OBR-4 the RIS's own procedure code, OBR-18 the accession number, OBR-25 F, OBR-32 the
 *   interpreting radiologist, priority as ordered (ORC-7.6 / OBR-27.6, OBR-5 in v2.3).
 * Report texts are synthetic and carry characters HL7 must escape (`&` travels as `\T\`).
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch07.html#Heading70 (OBX), ch. 2.7 (escapes)
 */
import { formatHl7DateTime, Hl7Message, type Hl7Segment } from '@ancillary/hl7-core';
import type { ImagingProcedureEntry } from '@ancillary/terminology';
import { componentsOf, copySegment, type ReceivedOrderMessage } from './received-order.reader';
import type { SeededRandom } from './seeded-random';

/** The text of one report, by section. */
export interface ImagingReportText {
  readonly examination: string;
  readonly history: string;
  readonly technique: string;
  readonly comparison: string;
  readonly findings: readonly string[];
  readonly impression: readonly string[];
  /** Whether the findings are not normal. */
  readonly abnormal: boolean;
}

export interface Radiologist {
  readonly id: string;
  readonly familyName: string;
  readonly givenName: string;
}

/** Synthetic radiologists (NPI-like ids). */
export const RADIOLOGISTS: readonly Radiologist[] = [
  { id: '1740000011', familyName: 'Lindqvist', givenName: 'Maja' },
  { id: '1740000029', familyName: 'Okonkwo', givenName: 'Chidi' },
  { id: '1740000037', familyName: 'Ferreira', givenName: 'Inês' },
  { id: '1740000045', familyName: 'Park', givenName: 'Min-jun' },
];

interface Variant {
  readonly findings: readonly string[];
  readonly impression: readonly string[];
}

interface Template {
  readonly technique: string;
  readonly normal: Variant;
  readonly abnormal: readonly Variant[];
}

const TEMPLATES: Readonly<Record<string, Template>> = {
  '71046': {
    technique: 'PA and lateral views of the chest.',
    normal: {
      findings: [
        'The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.',
        'Heart & mediastinum: cardiomediastinal silhouette within normal limits.',
        'No acute osseous abnormality.',
      ],
      impression: ['No acute cardiopulmonary process.'],
    },
    abnormal: [
      {
        findings: [
          'Patchy airspace opacity in the right lower lobe.',
          'Small right pleural effusion. No pneumothorax.',
          'Heart size is normal.',
        ],
        impression: [
          'Right lower lobe opacity, consistent with pneumonia in the appropriate clinical setting.',
          'Small right pleural effusion.',
          'Follow-up radiograph in 6-8 weeks to document resolution.',
        ],
      },
      {
        findings: [
          'Enlarged cardiac silhouette. Cephalization of pulmonary vessels.',
          'Bilateral small pleural effusions; Kerley B lines at the bases.',
        ],
        impression: ['Cardiomegaly with mild interstitial edema.', 'Small bilateral effusions.'],
      },
    ],
  },
  '70450': {
    technique: 'Axial CT images of the head without intravenous contrast.',
    normal: {
      findings: [
        'No intracranial hemorrhage, mass effect or midline shift.',
        'Gray-white matter differentiation is preserved.',
        'Ventricles and sulci are normal for age. Calvarium intact.',
      ],
      impression: ['No acute intracranial abnormality.'],
    },
    abnormal: [
      {
        findings: [
          'Hyperdense extra-axial collection along the left convexity, maximal thickness 6 mm.',
          'Mild effacement of the adjacent sulci; 2 mm rightward midline shift.',
        ],
        impression: [
          'Acute left subdural hematoma with mild mass effect.',
          'Findings communicated to the ordering clinician by telephone.',
        ],
      },
    ],
  },
  '74177': {
    technique:
      'CT of the abdomen and pelvis after 100 mL intravenous contrast; oral contrast given.',
    normal: {
      findings: [
        'Liver, spleen, pancreas & adrenal glands are unremarkable.',
        'Kidneys enhance symmetrically without hydronephrosis.',
        'No bowel obstruction or free air. Appendix is normal.',
        'No lymphadenopathy or free fluid.',
      ],
      impression: ['No acute abnormality in the abdomen or pelvis.'],
    },
    abnormal: [
      {
        findings: [
          'Dilated fluid-filled appendix measuring 12 mm with periappendiceal fat stranding.',
          'No abscess or free air.',
          'Remaining abdominal organs unremarkable.',
        ],
        impression: ['Acute uncomplicated appendicitis.'],
      },
    ],
  },
  '70551': {
    technique: 'Multiplanar multisequence MRI of the brain without contrast.',
    normal: {
      findings: [
        'No restricted diffusion to suggest acute infarct.',
        'No mass, hemorrhage or hydrocephalus.',
        'Normal flow voids in the major intracranial vessels.',
      ],
      impression: ['Normal MRI of the brain.'],
    },
    abnormal: [
      {
        findings: [
          'Several punctate T2/FLAIR hyperintensities in the periventricular white matter.',
          'No restricted diffusion. No mass effect.',
        ],
        impression: [
          'Mild chronic small vessel ischemic change.',
          'No acute intracranial abnormality.',
        ],
      },
    ],
  },
  '76700': {
    technique: 'Real-time grayscale and color Doppler ultrasound of the abdomen.',
    normal: {
      findings: [
        'Liver normal in size and echotexture. No focal lesion.',
        'Gallbladder without stones or wall thickening. CBD 3 mm.',
        'Pancreas, spleen & kidneys unremarkable. Aorta normal caliber.',
      ],
      impression: ['Normal abdominal ultrasound.'],
    },
    abnormal: [
      {
        findings: [
          'Multiple mobile echogenic gallstones with posterior shadowing, largest 14 mm.',
          'Gallbladder wall 2 mm. Negative sonographic Murphy sign.',
          'Liver mildly echogenic, consistent with steatosis.',
        ],
        impression: ['Cholelithiasis without evidence of cholecystitis.', 'Hepatic steatosis.'],
      },
    ],
  },
  '77067': {
    technique: 'Bilateral CC and MLO views with computer-aided detection.',
    normal: {
      findings: [
        'The breasts are heterogeneously dense, which may obscure small masses.',
        'No suspicious mass, calcification or architectural distortion.',
      ],
      impression: ['BI-RADS 1: Negative. Routine screening mammogram in 1 year.'],
    },
    abnormal: [
      {
        findings: [
          'Scattered fibroglandular densities.',
          'New 8 mm focal asymmetry in the upper outer quadrant of the left breast, posterior depth.',
        ],
        impression: [
          'BI-RADS 0: Incomplete. Diagnostic mammogram & ultrasound of the left breast recommended.',
        ],
      },
    ],
  },
  '73562': {
    technique: 'AP, lateral and sunrise views of the knee.',
    normal: {
      findings: ['No fracture or dislocation.', 'Joint spaces are preserved. No joint effusion.'],
      impression: ['No acute osseous abnormality of the knee.'],
    },
    abnormal: [
      {
        findings: [
          'Medial compartment joint space narrowing with marginal osteophytes.',
          'Small suprapatellar effusion. No fracture.',
        ],
        impression: ['Moderate medial compartment osteoarthritis.', 'Small joint effusion.'],
      },
    ],
  },
  '71250': {
    technique: 'Axial CT of the chest without intravenous contrast; coronal & sagittal reformats.',
    normal: {
      findings: [
        'No pulmonary nodule, consolidation or effusion.',
        'Central airways are patent. No mediastinal or hilar lymphadenopathy.',
      ],
      impression: ['No acute intrathoracic abnormality.'],
    },
    abnormal: [
      {
        findings: [
          'Solid 7 mm nodule in the right upper lobe (series 3, image 45).',
          'Mild centrilobular emphysema. No lymphadenopathy.',
        ],
        impression: [
          'Indeterminate 7 mm right upper lobe nodule; follow-up CT in 6-12 months per Fleischner guidelines.',
          'Mild emphysema.',
        ],
      },
    ],
  },
  '76770': {
    technique: 'Real-time ultrasound of the kidneys, bladder and abdominal aorta.',
    normal: {
      findings: [
        'Right kidney 11.2 cm, left kidney 11.5 cm. Normal cortical thickness.',
        'No hydronephrosis, stone or mass. Bladder unremarkable.',
      ],
      impression: ['Normal renal ultrasound.'],
    },
    abnormal: [
      {
        findings: [
          'Moderate left hydronephrosis with a 6 mm shadowing stone at the ureteropelvic junction.',
          'Right kidney normal.',
        ],
        impression: ['Moderate left hydronephrosis due to an obstructing UPJ calculus.'],
      },
    ],
  },
  '72148': {
    technique: 'Sagittal and axial T1 and T2 MRI of the lumbar spine without contrast.',
    normal: {
      findings: [
        'Normal lumbar lordosis and vertebral body heights.',
        'Conus terminates at L1. No disc herniation or canal stenosis.',
      ],
      impression: ['Normal MRI of the lumbar spine.'],
    },
    abnormal: [
      {
        findings: [
          'L4-L5: broad-based disc bulge with a left paracentral protrusion contacting the descending left L5 nerve root.',
          'L5-S1: mild facet arthropathy. No canal stenosis.',
        ],
        impression: [
          'L4-L5 left paracentral disc protrusion contacting the left L5 nerve root.',
          'Mild degenerative change at L5-S1.',
        ],
      },
    ],
  },
};

const BY_MODALITY: Readonly<Record<string, Template>> = {
  CT: {
    technique: 'Axial CT images with multiplanar reformats.',
    normal: { findings: ['No acute abnormality identified.'], impression: ['No acute findings.'] },
    abnormal: [],
  },
  MR: {
    technique: 'Multiplanar multisequence MRI.',
    normal: { findings: ['No acute abnormality identified.'], impression: ['No acute findings.'] },
    abnormal: [],
  },
  US: {
    technique: 'Real-time grayscale ultrasound.',
    normal: { findings: ['Sonographically unremarkable study.'], impression: ['Normal study.'] },
    abnormal: [],
  },
  DEFAULT: {
    technique: 'Standard views.',
    normal: { findings: ['No acute abnormality identified.'], impression: ['No acute findings.'] },
    abnormal: [],
  },
};

const COMPARISONS = ['None available.', 'None.', 'Prior study from 14 months ago.'];

/**
 * A report for one procedure, drawn from `random`: normal, or (share `abnormalShare`, default
 * 0.3) one of the procedure's abnormal variants.
 */
export function drawImagingReport(
  random: SeededRandom,
  procedure: Pick<ImagingProcedureEntry, 'cptCode' | 'localDisplay' | 'modality'>,
  options: { history?: string; abnormalShare?: number } = {},
): ImagingReportText {
  const template =
    TEMPLATES[procedure.cptCode] ?? BY_MODALITY[procedure.modality] ?? BY_MODALITY.DEFAULT;
  if (!template) throw new Error('no report template');
  const abnormal =
    template.abnormal.length > 0 && random.chance(options.abnormalShare ?? 0.3)
      ? random.pick(template.abnormal)
      : undefined;
  const variant = abnormal ?? template.normal;
  return {
    examination: procedure.localDisplay,
    history: options.history?.trim() || 'Not provided.',
    technique: template.technique,
    comparison: random.pick(COMPARISONS),
    findings: variant.findings,
    impression:
      variant.impression.length > 1
        ? variant.impression.map((line, i) => `${i + 1}. ${line}`)
        : variant.impression,
    abnormal: abnormal !== undefined,
  };
}

/**
 * A synthetic DICOM UID (PS3.5 9.1: digits and dots, no leading zeros, ≤ 64 characters) under
 * the 1.2.826.0.1.3680043.8.498 root that DICOM test tools use for generated UIDs.
 */
export function syntheticStudyUid(random: SeededRandom): string {
  return `1.2.826.0.1.3680043.8.498.${random.int(1, 9)}${random.chars('0123456789', 25)}`;
}

/** OBX-3 style of the report sections. */
export type ReportSectionStyle = 'loinc' | 'suffix';

export interface ImagingReportMessageInput {
  readonly received: ReceivedOrderMessage;
  /** Index of the order in the received message. */
  readonly line: number;
  readonly procedure: ImagingProcedureEntry;
  readonly report: ImagingReportText;
  /** ORC-3 / OBR-3 and the accession number OBR-18. */
  readonly accessionNumber: string;
  readonly studyInstanceUid: string;
  readonly interpreter: Radiologist;
  readonly controlId: string;
  /** MSH-12; default 2.3 (Latin-1). */
  readonly version?: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** OBR-7, when the study was performed. */
  readonly performedAt: Date;
  readonly now: Date;
  /** Default `loinc`. */
  readonly sectionStyle?: ReportSectionStyle;
}

/** The ORU^R01 of one imaging report (see the module comment). */
export function buildImagingReportMessage(input: ImagingReportMessageInput): Hl7Message {
  const version = input.version ?? '2.3';
  const v23 = version === '2.3' || version === '2.3.1' || version === '2.4';
  const { received, procedure, report } = input;
  const ordered = received.content.lines[input.line];
  const group = received.groups[input.line];
  if (!ordered || !group) throw new RangeError(`no order ${input.line} in the received message`);
  const message = Hl7Message.create({
    messageType: version === '2.3' ? 'ORU^R01' : 'ORU^R01^ORU_R01',
    version,
    controlId: input.controlId,
    sendingApplication: input.sendingApplication,
    sendingFacility: input.sendingFacility,
    receivingApplication: input.receivingApplication,
    receivingFacility: input.receivingFacility,
    charset: version === '2.3' ? '8859/1' : 'UNICODE UTF-8',
    now: input.now,
  });
  if (received.pid) copySegment(message, received.pid);
  if (received.pv1) copySegment(message, received.pv1);
  else message.addSegment('PV1', ['1', 'O']);
  const placer = [ordered.placerOrderNumber, ordered.placerNamespace];
  const filler = [input.accessionNumber, input.sendingApplication];
  const now = formatHl7DateTime(input.now);
  const priority = ordered.priority;
  const orc = message.addSegment('ORC', ['RE', placer, filler, '', 'CM', '', '', '', now]);
  if (v23) orc.set(7, ['', '', '', '', '', priority]);
  const orderedBy = group.orc ? componentsOf(group.orc, 12) : [];
  if (orderedBy.length > 0) orc.set(12, orderedBy);
  const obr = message.addSegment('OBR', [
    '1',
    placer,
    filler,
    [procedure.localCode, procedure.localDisplay, procedure.localSystem],
    version === '2.3' ? priority : '',
    '',
    formatHl7DateTime(input.performedAt),
  ]);
  const requester = group.obr ? componentsOf(group.obr, 16) : [];
  if (requester.length > 0 || orderedBy.length > 0) {
    obr.set(16, requester.length > 0 ? requester : orderedBy);
  }
  obr.set(18, input.accessionNumber);
  obr.set(22, now);
  obr.set(24, sectionOf(procedure.modality));
  obr.set(25, 'F');
  if (v23) obr.set(27, ['', '', '', '', '', priority]);
  obr.set('32.1', [
    input.interpreter.id,
    input.interpreter.familyName,
    input.interpreter.givenName,
  ]);
  if (!v23 && ordered.timingPriority) {
    message.addSegment('TQ1', ['1', '', '', '', '', '', '', '', [...ordered.timingPriority]]);
  }
  const style = input.sectionStyle ?? 'loinc';
  const body = [
    `EXAMINATION: ${report.examination}`,
    `CLINICAL HISTORY: ${report.history}`,
    `TECHNIQUE: ${report.technique}`,
    `COMPARISON: ${report.comparison}`,
    'FINDINGS:',
    ...report.findings,
  ];
  let setId = 0;
  const observer = [
    input.interpreter.id,
    input.interpreter.familyName,
    input.interpreter.givenName,
  ];
  const obx = (type: string, subId: string): Hl7Segment => {
    const segment = message.addSegment('OBX', [String(++setId), type]);
    segment.set(4, subId);
    segment.set(11, 'F');
    segment.set(14, formatHl7DateTime(input.performedAt));
    segment.set(16, observer);
    return segment;
  };
  for (const line of body) {
    const segment = obx('TX', '1');
    sectionCode(segment, style, 'GDT', procedure);
    segment.set(5, line);
  }
  const impression = obx('FT', '2');
  sectionCode(impression, style, 'IMP', procedure);
  impression.setText(5, report.impression.join('\n'));
  const uid = obx('ST', '3');
  uid.set(3, ['113014', 'Study Instance UID', 'DCM']);
  uid.set(5, input.studyInstanceUid);
  return message;
}

/** OBX-3 of a report section: LOINC section codes, or the procedure code with a suffix. */
function sectionCode(
  segment: Hl7Segment,
  style: ReportSectionStyle,
  section: 'GDT' | 'IMP',
  procedure: ImagingProcedureEntry,
): void {
  if (style === 'loinc') {
    segment.set(
      3,
      section === 'GDT' ? ['18782-3', 'Study observation', 'LN'] : ['19005-8', 'Impression', 'LN'],
    );
    return;
  }
  segment.set('3.1', [procedure.cptCode, section]);
  segment.set('3.2', section === 'GDT' ? procedure.cptDisplay : 'Impression');
  segment.set('3.3', 'C4');
}

/** OBR-24 diagnostic service section (HL7 table 0074) of a DICOM modality. */
function sectionOf(modality: string): string {
  switch (modality) {
    case 'CT':
      return 'CT';
    case 'MR':
      return 'NMR';
    case 'US':
      return 'RUS';
    case 'CR':
    case 'DX':
      return 'RX';
    default:
      return 'RAD';
  }
}
