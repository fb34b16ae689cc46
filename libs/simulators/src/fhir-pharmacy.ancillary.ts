/**
 * The simulated pharmacy system in FHIR mode: a small FHIR R4 server (node:http) that takes
 * MedicationRequests and sends MedicationDispenses back to the pharmacy gateway.
 *
 * - `POST /fhir/MedicationRequest`: answered per the ack script (ack-script.ts): accept → 201
 *   with the stored request (id, meta, plus a filler identifier, type FILL, system
 *   `urn:ancillary:filler-order:<sourceSystem>`) and a Location; reject → 422 OperationOutcome;
 *   error → 503 (Retry-After), commit-error → 500; delay; drop (socket closed, no response);
 *   lose-ack (taken, then the socket closed); silent. A request whose placer identifier it
 *   already has — the conditional create of `If-None-Exist: identifier=<system>|<value>`, or a
 *   plain repeat — is answered 200 with the stored request and is never taken twice; a repeat of
 *   a refused one gets the same 422. A drug outside the formulary, a request without placer
 *   identifier or patient MRN, or a status other than active is refused 422.
 *   https://hl7.org/fhir/R4/http.html#ccreate
 * - `PUT /fhir/MedicationRequest?identifier=<system>|<value>` (or `/MedicationRequest/<id>`)
 *   with status `cancelled` (or stopped, entered-in-error) cancels: 200 with the updated request
 *   (201 when it never saw the order: a conditional update with no match creates), 422 when it
 *   was already dispensed or the change is not a cancellation.
 *   https://hl7.org/fhir/R4/http.html#cond-update
 * - After taking a request it POSTs a MedicationDispense (dispense.builder.ts) to
 *   `<gatewayUrl>/fhir/MedicationDispense` after the drawn delay, retrying on network errors,
 *   timeouts, 408, 429 and 5xx with backoff; other answers fail the dispense for good.
 */
import type { Logger } from '@ancillary/observability';
import { backoffDelayMs, validateRetryPolicy, type RetryPolicy } from '@ancillary/retry';
import type { FormularyEntry, Terminology } from '@ancillary/terminology';
import * as http from 'node:http';
import type * as net from 'node:net';
import { describeAckAction, toAckScript, type AckAction, type AckScript } from './ack-script';
import {
  drawDelay,
  SimulatedAncillary,
  sleepUnlessAborted,
  toDelayRange,
  type AncillaryEvent,
  type DelayRange,
  type ReceivedOrderRecord,
} from './ancillary-orders';
import {
  buildFhirMedicationDispense,
  PHARMACISTS,
  resolveFormularyEntry,
  type FhirIdentifierJson,
  type FhirMedicationRequestJson,
} from './dispense.builder';
import { DEFAULT_RESULT_DELAY } from './order-receiving.ancillary';
import { SeededRandom } from './seeded-random';

export interface FhirPharmacyAncillaryOptions {
  terminology: Terminology;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The pharmacy gateway; dispenses go to `<gatewayUrl>/fhir/MedicationDispense`. */
  gatewayUrl: string;
  script?: AckScript | string;
  /** Request to dispense, ms; default 1000–3000. */
  resultDelayMs?: DelayRange | number;
  /** For priority stat; default half of `resultDelayMs`. */
  statResultDelayMs?: DelayRange | number;
  sendResults?: boolean;
  seed?: number;
  /** 1–8 of [A-Z0-9] in resource ids, filler and dispense numbers; default from the clock. */
  runId?: string;
  /** Formulary facility; default NWH-RX. */
  facility?: string;
  /** Names the filler and dispense identifier systems; default `pharmacy-main`. */
  sourceSystem?: string;
  /** Placer identifier system when a request's identifiers carry no PLAC type; default `urn:ancillary:placer-order`. */
  placerSystem?: string;
  /** Default 30 attempts, 0.5–10 s backoff. */
  dispenseRetry?: Partial<RetryPolicy>;
  /** Per dispense POST; default 10 s. */
  requestTimeoutMs?: number;
  logger?: Logger;
  onEvent?: (event: AncillaryEvent) => void;
}

export interface FhirOrderSource {
  /** The request as stored (with id, meta and the filler identifier once taken). */
  readonly resource: FhirMedicationRequestJson;
  readonly formulary: FormularyEntry | undefined;
  readonly placer: { readonly system?: string; readonly value: string };
  readonly patient: { readonly system?: string; readonly value: string } | undefined;
}

type HttpReply =
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly body: unknown;
      readonly headers?: Record<string, string>;
      readonly delayMs?: number;
    }
  | { readonly kind: 'drop'; readonly delayMs?: number }
  | { readonly kind: 'silent' };

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const DEFAULT_DISPENSE_RETRY: RetryPolicy = {
  maxAttempts: 30,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  multiplier: 2,
};
const CANCELLED_STATUSES = new Set(['cancelled', 'stopped', 'entered-in-error']);

export class FhirPharmacyAncillary extends SimulatedAncillary<FhirOrderSource> {
  readonly facility: string;
  readonly runId: string;
  readonly sourceSystem: string;
  private readonly terminology: Terminology;
  private readonly random: SeededRandom;
  private readonly delay: DelayRange;
  private readonly statDelay: DelayRange;
  private readonly retry: RetryPolicy;
  private readonly placerSystem: string;
  private readonly logger: Logger | undefined;
  private readonly stopping = new AbortController();
  /** Refusals by placer: a repeat gets the same answer. */
  private readonly refusals = new Map<string, { status: number; body: unknown }>();
  private server: http.Server | undefined;
  private boundPort: number | undefined;
  private script: AckScript;
  private scriptIndex = 0;
  private seq = 0;

  constructor(private readonly options: FhirPharmacyAncillaryOptions) {
    super('pharmacy', options.onEvent);
    this.terminology = options.terminology;
    this.facility = options.facility ?? 'NWH-RX';
    this.terminology.formulary(this.facility); // throws when the facility is unknown
    this.runId = options.runId ?? Date.now().toString(36).toUpperCase().slice(-6);
    if (!/^[A-Z0-9]{1,8}$/.test(this.runId)) {
      throw new RangeError(`runId must be 1–8 characters A-Z or 0-9, got ${this.runId}`);
    }
    this.sourceSystem = options.sourceSystem ?? 'pharmacy-main';
    this.placerSystem = options.placerSystem ?? 'urn:ancillary:placer-order';
    this.random = new SeededRandom(options.seed ?? 1);
    this.delay = toDelayRange(options.resultDelayMs ?? DEFAULT_RESULT_DELAY);
    this.statDelay = toDelayRange(
      options.statResultDelayMs ?? {
        minMs: Math.round(this.delay.minMs / 2),
        maxMs: Math.round(this.delay.maxMs / 2),
      },
    );
    this.retry = validateRetryPolicy({ ...DEFAULT_DISPENSE_RETRY, ...options.dispenseRetry });
    this.script = toAckScript(options.script);
    this.logger = options.logger;
  }

  /** The FHIR base URL of this pharmacy (once started), e.g. http://127.0.0.1:8092/fhir */
  get baseUrl(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.port}/fhir`;
  }

  get port(): number {
    if (this.boundPort === undefined) throw new Error('simulated FHIR pharmacy has not started');
    return this.boundPort;
  }

  get isUp(): boolean {
    return this.server?.listening === true;
  }

  get scriptText(): string {
    return this.script.toString();
  }

  setScript(script: AckScript | string): void {
    this.script = toAckScript(script);
  }

  async start(): Promise<net.AddressInfo> {
    if (this.stopping.signal.aborted) throw new Error('simulated FHIR pharmacy was stopped');
    if (this.server) throw new Error('already listening');
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    const address = await new Promise<net.AddressInfo>((resolve, reject) => {
      server.once('error', (error) => {
        this.server = undefined;
        reject(error);
      });
      server.listen(
        { host: this.options.host ?? '127.0.0.1', port: this.boundPort ?? this.options.port },
        () => {
          resolve(server.address() as net.AddressInfo);
        },
      );
    });
    this.boundPort = address.port;
    this.options.onEvent?.({ type: 'listening', ancillary: this.kind, port: address.port });
    return address;
  }

  /** Stops listening and drops every open request; state and pending dispenses stay. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    server.closeAllConnections();
    await closed;
    if (this.boundPort !== undefined) {
      this.options.onEvent?.({ type: 'down', ancillary: this.kind, port: this.boundPort });
    }
  }

  up(): Promise<net.AddressInfo> {
    return this.start();
  }

  /** Stops everything: the server, pending dispenses, retries. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.book.close();
    await this.down();
  }

  // ------------------------------------------------------------------------------------------
  // HTTP
  // ------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let reply: HttpReply;
    try {
      reply = await this.route(req);
    } catch (error) {
      reply = respond(
        400,
        outcome('invalid', error instanceof Error ? error.message : String(error)),
      );
    }
    if (reply.kind === 'silent') return;
    if (reply.delayMs) await sleepUnlessAborted(reply.delayMs, this.stopping.signal);
    if (reply.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (res.writableEnded || req.socket.destroyed) return;
    res.writeHead(reply.status, { 'content-type': FHIR_JSON, ...reply.headers });
    res.end(JSON.stringify(reply.body));
  }

  private async route(req: http.IncomingMessage): Promise<HttpReply> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    if (method === 'GET' && (path === '/health' || path === '/fhir/metadata')) {
      await drain(req);
      return respond(200, {
        resourceType: 'CapabilityStatement',
        status: 'active',
        kind: 'instance',
        fhirVersion: '4.0.1',
        format: ['application/fhir+json'],
        rest: [
          {
            mode: 'server',
            resource: [
              {
                type: 'MedicationRequest',
                interaction: [{ code: 'create' }, { code: 'update' }, { code: 'read' }],
              },
            ],
          },
        ],
      });
    }
    if (path === '/fhir/MedicationRequest' && method === 'POST') {
      return this.onCreate(await readJson(req), req.headers['if-none-exist']);
    }
    const byId = /^\/fhir\/MedicationRequest\/([A-Za-z0-9\-.]{1,64})$/.exec(path);
    if (method === 'PUT' && (path === '/fhir/MedicationRequest' || byId)) {
      const body = await readJson(req);
      const placer = byId
        ? this.placerById(byId[1] ?? '')
        : searchValue(url.searchParams.get('identifier'));
      if (placer === undefined) {
        return respond(
          400,
          outcome('invalid', 'a conditional update needs ?identifier=<system>|<value>'),
        );
      }
      return this.onCancel(body, placer);
    }
    if (method === 'GET' && byId) {
      await drain(req);
      const placer = this.placerById(byId[1] ?? '');
      const entry = placer === undefined ? undefined : this.book.get(placer);
      return entry
        ? respond(200, entry.source.resource)
        : respond(404, outcome('not-found', `MedicationRequest/${byId[1] ?? ''} is not known`));
    }
    await drain(req);
    return respond(
      404,
      outcome('not-supported', `${method} ${path} is not supported by this pharmacy`),
    );
  }

  private onCreate(body: unknown, ifNoneExist: string | string[] | undefined): HttpReply {
    const receivedAt = new Date();
    const request = asMedicationRequest(body);
    if (!request) return respond(400, outcome('invalid', 'the body is not a MedicationRequest'));
    const placer = this.placerOf(request);
    // If-None-Exist is a search query: identifier=<system>|<value>, URL-encoded
    const conditional =
      typeof ifNoneExist === 'string'
        ? searchValue(new URLSearchParams(ifNoneExist).get('identifier'))
        : undefined;
    const key = conditional ?? placer?.value ?? '';
    const patient = patientOf(request);
    const codings = (request.medicationCodeableConcept?.coding ?? [])
      .filter((c): c is { system?: string; code: string; display?: string } => Boolean(c.code))
      .map((c) => ({ code: c.code, system: c.system ?? null, display: c.display ?? null }));
    const code =
      codings.find((c) => c.system === 'http://www.nlm.nih.gov/research/umls/rxnorm')?.code ??
      codings[0]?.code ??
      '';
    const priority = fhirPriorityCode(request.priority);
    const base = {
      controlId: key,
      messageType: 'POST MedicationRequest',
      orderControl: 'NW',
      placerOrderNumber: key,
      fillerOrderNumber: null,
      code,
      priority,
      stat: priority === 'S',
      patientMrn: patient?.value ?? null,
      receivedAt,
    };
    const known = key ? this.book.get(key) : undefined;
    if (known && known.record.status !== 'rejected') {
      const arrival = this.book.arrived({
        ...base,
        duplicate: true,
        scriptIndex: null,
        action: 'repeat',
      });
      this.book.answered(arrival, 'HTTP 200', known.record.fillerOrderNumber);
      return respond(200, known.source.resource);
    }
    const refused = key ? this.refusals.get(key) : undefined;
    if (refused) {
      const arrival = this.book.arrived({
        ...base,
        duplicate: true,
        scriptIndex: null,
        action: 'repeat',
      });
      this.book.answered(arrival, `HTTP ${refused.status}`, null);
      return respond(refused.status, refused.body);
    }
    const index = ++this.scriptIndex;
    const decision = this.script.decide({
      index,
      placers: [key],
      codes: codings.map((c) => c.code),
      orderControls: ['NW'],
      priorities: [priority],
    });
    const arrival = this.book.arrived({
      ...base,
      duplicate: false,
      scriptIndex: index,
      action: describeAckAction(decision.action),
    });
    const take = (): { status: number; body: unknown; headers?: Record<string, string> } => {
      const problem = !placer
        ? 'MedicationRequest.identifier has no placer order number'
        : !patient
          ? 'MedicationRequest.subject carries no patient identifier (MRN)'
          : request.status !== undefined && request.status !== 'active'
            ? `MedicationRequest.status is ${request.status}; only active requests are dispensed`
            : undefined;
      const formulary = problem
        ? undefined
        : resolveFormularyEntry(this.terminology, this.facility, codings);
      if (problem || !formulary || !placer || !patient) {
        const reason =
          problem ?? `Drug ${code || '(none)'} is not in the ${this.facility} formulary`;
        return this.refuse(key, request, base, reason);
      }
      return this.accept(key, request, base, formulary, placer, patient);
    };
    return this.perform(decision.action, arrival, key, request, base, take);
  }

  private perform(
    action: AckAction,
    arrival: ReceivedOrderRecord,
    key: string,
    request: FhirMedicationRequestJson,
    base: Omit<
      ReceivedOrderRecord,
      'ancillary' | 'answer' | 'duplicate' | 'scriptIndex' | 'action'
    >,
    take: () => { status: number; body: unknown; headers?: Record<string, string> },
  ): HttpReply {
    const answered = (reply: HttpReply): HttpReply => {
      const answer =
        reply.kind === 'respond'
          ? `HTTP ${reply.status}`
          : reply.kind === 'drop'
            ? 'dropped'
            : 'silent';
      this.book.answered(
        arrival,
        answer,
        answer.startsWith('HTTP 20')
          ? (this.book.get(key)?.record.fillerOrderNumber ?? null)
          : null,
      );
      return reply;
    };
    switch (action.kind) {
      case 'accept': {
        const result = take();
        return answered(respond(result.status, result.body, result.headers));
      }
      case 'reject': {
        const result = this.refuse(
          key,
          request,
          base,
          action.text ?? 'Order refused by the pharmacy',
        );
        return answered(respond(result.status, result.body));
      }
      case 'error':
        return answered(
          respond(
            503,
            outcome(
              'transient',
              action.text ?? 'The pharmacy cannot take orders right now; retry later',
            ),
            {
              'retry-after': '1',
            },
          ),
        );
      case 'commit-error':
        return answered(
          respond(
            500,
            outcome('exception', action.text ?? 'The pharmacy could not store the order'),
          ),
        );
      case 'delay': {
        const inner = this.perform(action.then, arrival, key, request, base, take);
        return inner.kind === 'silent' ? inner : { ...inner, delayMs: action.ms };
      }
      case 'drop':
        return answered({ kind: 'drop' });
      case 'lose-ack':
        take();
        return answered({ kind: 'drop' });
      case 'silent':
        return answered({ kind: 'silent' });
    }
  }

  private accept(
    key: string,
    request: FhirMedicationRequestJson,
    base: {
      receivedAt: Date;
      code: string;
      priority: string;
      stat: boolean;
      patientMrn: string | null;
    },
    formulary: FormularyEntry,
    placer: { system?: string; value: string },
    patient: { system?: string; value: string },
  ): { status: number; body: unknown; headers: Record<string, string> } {
    const n = ++this.seq;
    const id = `rx-${this.runId.toLowerCase()}-${n}`;
    const filler = `RX${this.runId}${String(n).padStart(5, '0')}`;
    const resource: FhirMedicationRequestJson = {
      ...request,
      id,
      meta: { versionId: '1', lastUpdated: base.receivedAt.toISOString() },
      status: 'active',
      identifier: [
        ...(request.identifier ?? []),
        {
          type: { coding: [{ system: V2_0203, code: 'FILL' }] },
          system: `urn:ancillary:filler-order:${this.sourceSystem}`,
          value: filler,
        },
      ],
    };
    this.book.put(
      {
        ancillary: this.kind,
        placerOrderNumber: key,
        fillerOrderNumber: filler,
        code: base.code,
        priority: base.priority,
        stat: base.stat,
        patientMrn: base.patientMrn,
        controlId: key,
        status: 'accepted',
        receivedAt: base.receivedAt,
        acceptedAt: base.receivedAt,
      },
      { resource, formulary, placer, patient },
    );
    this.schedule(key, base.stat);
    return {
      status: 201,
      body: resource,
      headers: { location: `${this.baseUrl}/MedicationRequest/${id}/_history/1` },
    };
  }

  private refuse(
    key: string,
    request: FhirMedicationRequestJson,
    base: {
      receivedAt: Date;
      code: string;
      priority: string;
      stat: boolean;
      patientMrn: string | null;
    },
    reason: string,
  ): { status: number; body: unknown } {
    const answer = { status: 422, body: outcome('business-rule', reason) };
    if (key) {
      this.refusals.set(key, answer);
      this.book.put(
        {
          ancillary: this.kind,
          placerOrderNumber: key,
          fillerOrderNumber: null,
          code: base.code,
          priority: base.priority,
          stat: base.stat,
          patientMrn: base.patientMrn,
          controlId: key,
          status: 'rejected',
          receivedAt: base.receivedAt,
          rejectReason: reason,
        },
        { resource: request, formulary: undefined, placer: { value: key }, patient: undefined },
      );
    }
    return answer;
  }

  private onCancel(body: unknown, key: string): HttpReply {
    const receivedAt = new Date();
    const request = asMedicationRequest(body);
    if (!request) return respond(400, outcome('invalid', 'the body is not a MedicationRequest'));
    const known = this.book.get(key);
    const base = {
      controlId: key,
      messageType: 'PUT MedicationRequest',
      orderControl: 'CA',
      placerOrderNumber: key,
      fillerOrderNumber: known?.record.fillerOrderNumber ?? null,
      code: known?.record.code ?? '',
      priority: known?.record.priority ?? 'R',
      stat: known?.record.stat ?? false,
      patientMrn: known?.record.patientMrn ?? patientOf(request)?.value ?? null,
      receivedAt,
    };
    const index = ++this.scriptIndex;
    const decision = this.script.decide({
      index,
      placers: [key],
      codes: base.code ? [base.code] : [],
      orderControls: ['CA'],
      priorities: [base.priority],
    });
    const arrival = this.book.arrived({
      ...base,
      duplicate: false,
      scriptIndex: index,
      action: describeAckAction(decision.action),
    });
    const take = (): { status: number; body: unknown } => {
      if (!CANCELLED_STATUSES.has(request.status ?? '')) {
        return {
          status: 422,
          body: outcome(
            'business-rule',
            `a placed order can only be cancelled (status cancelled), not changed to ${request.status ?? 'nothing'}`,
          ),
        };
      }
      const record = known?.record;
      if (
        record &&
        (record.status === 'resulting' ||
          record.status === 'resulted' ||
          record.status === 'result-failed')
      ) {
        return {
          status: 422,
          body: outcome(
            'business-rule',
            `order ${key} was already dispensed and can no longer be cancelled`,
          ),
        };
      }
      const version =
        Number(
          (known?.source.resource.meta as { versionId?: string } | undefined)?.versionId ?? '0',
        ) + 1;
      const resource: FhirMedicationRequestJson = {
        ...(known?.source.resource ?? request),
        status: 'cancelled',
        meta: { versionId: String(version), lastUpdated: receivedAt.toISOString() },
      };
      if (known && record) {
        if (record.status === 'accepted') {
          this.book.update(key, { status: 'cancelled', cancelledAt: receivedAt });
        }
        this.book.setSource(key, { ...known.source, resource });
        return { status: 200, body: resource };
      }
      this.book.put(
        {
          ancillary: this.kind,
          placerOrderNumber: key,
          fillerOrderNumber: null,
          code: base.code,
          priority: base.priority,
          stat: base.stat,
          patientMrn: base.patientMrn,
          controlId: key,
          status: 'cancelled',
          receivedAt,
          cancelledAt: receivedAt,
        },
        {
          resource: {
            ...resource,
            id: resource.id ?? `rx-${this.runId.toLowerCase()}-c${++this.seq}`,
          },
          formulary: undefined,
          placer: { value: key },
          patient: undefined,
        },
      );
      return { status: 201, body: resource };
    };
    return this.perform(decision.action, arrival, key, request, base, take);
  }

  private placerById(id: string): string | undefined {
    return this.book
      .orders()
      .find((o) => this.book.get(o.placerOrderNumber)?.source.resource.id === id)
      ?.placerOrderNumber;
  }

  /** The placer identifier: typed PLAC, else in the placer system, else the first one. */
  private placerOf(
    request: FhirMedicationRequestJson,
  ): { system?: string; value: string } | undefined {
    const ids = (request.identifier ?? []).filter(
      (i): i is FhirIdentifierJson & { value: string } => Boolean(i.value),
    );
    const found =
      ids.find((i) => i.type?.coding?.some((c) => c.code === 'PLAC')) ??
      ids.find((i) => i.system === this.placerSystem) ??
      ids.find((i) => !i.type?.coding?.some((c) => c.code === 'FILL'));
    if (!found) return undefined;
    return found.system ? { system: found.system, value: found.value } : { value: found.value };
  }

  // ------------------------------------------------------------------------------------------
  // dispenses
  // ------------------------------------------------------------------------------------------

  private schedule(placer: string, stat: boolean): void {
    if (this.options.sendResults === false) return;
    const delay = drawDelay(stat ? this.statDelay : this.delay, this.random);
    this.book.update(placer, { resultDueAt: new Date(Date.now() + delay) });
    this.book.later(delay, () => this.sendDispense(placer));
  }

  private async sendDispense(placer: string): Promise<void> {
    const entry = this.book.get(placer);
    if (!entry) return;
    if (entry.record.status === 'cancelled') {
      this.options.onEvent?.({
        type: 'result-skipped',
        ancillary: this.kind,
        order: { ...entry.record },
        reason: 'cancelled',
      });
      return;
    }
    const { formulary, patient } = entry.source;
    if (
      entry.record.status !== 'accepted' ||
      !formulary ||
      !patient ||
      !entry.record.fillerOrderNumber
    )
      return;
    const now = new Date();
    const dispenseId = `${entry.record.fillerOrderNumber}-1`;
    const dispense = buildFhirMedicationDispense({
      request: entry.source.resource,
      formulary,
      placer: entry.source.placer,
      patient,
      dispenseId,
      dispenseSystem: `urn:ancillary:dispense:${this.sourceSystem}`,
      pharmacist: this.random.pick(PHARMACISTS),
      now,
    });
    this.book.update(placer, { status: 'resulting', resultSentAt: now, resultId: dispenseId });
    const url = `${this.options.gatewayUrl.replace(/\/+$/, '')}/fhir/MedicationDispense`;
    let lastError: string;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
          body: JSON.stringify(dispense),
          signal: AbortSignal.any([
            AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
            this.stopping.signal,
          ]),
        });
        const text = await response.text();
        if (response.ok) {
          const order = this.book.update(placer, {
            status: 'resulted',
            resultAcknowledgedAt: new Date(),
            resultAttempts: attempt,
          });
          if (order) this.options.onEvent?.({ type: 'result-sent', ancillary: this.kind, order });
          return;
        }
        lastError = `HTTP ${response.status}${diagnosticsOf(text)}`;
        if (!isTransientStatus(response.status)) {
          this.dispenseFailed(placer, lastError, attempt);
          return;
        }
      } catch (error) {
        lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      if (attempt >= this.retry.maxAttempts || this.stopping.signal.aborted) {
        this.dispenseFailed(placer, lastError, attempt);
        return;
      }
      await sleepUnlessAborted(backoffDelayMs(this.retry, attempt), this.stopping.signal);
    }
  }

  private dispenseFailed(placer: string, error: string, attempts: number): void {
    const order = this.book.update(placer, {
      status: 'result-failed',
      resultError: error,
      resultAttempts: attempts,
    });
    this.logger?.warn(
      { placerOrderNumber: placer, err: error },
      'simulated FHIR pharmacy: dispense not accepted by the gateway',
    );
    if (order)
      this.options.onEvent?.({ type: 'result-failed', ancillary: this.kind, order, error });
  }
}

/** 408, 429 and 5xx: try again later (the gateway or something in front of it is busy). */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function respond(status: number, body: unknown, headers?: Record<string, string>): HttpReply {
  return { kind: 'respond', status, body, ...(headers ? { headers } : {}) };
}

function outcome(code: string, diagnostics: string): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics }],
  };
}

function diagnosticsOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { issue?: { diagnostics?: string }[] };
    const diagnostics = parsed.issue
      ?.map((i) => i.diagnostics)
      .filter(Boolean)
      .join('; ');
    return diagnostics ? `: ${diagnostics}` : '';
  } catch {
    return text ? `: ${text.slice(0, 200)}` : '';
  }
}

/** `system|value` → value (the placer number); `value` alone as it is. */
function searchValue(param: string | null | undefined): string | undefined {
  if (!param) return undefined;
  const bar = param.indexOf('|');
  const value = bar === -1 ? param : param.slice(bar + 1);
  return value.trim() || undefined;
}

/** HL7 table 0027 code of a FHIR request priority. */
function fhirPriorityCode(priority: string | undefined): string {
  if (priority === 'stat') return 'S';
  return priority === 'asap' || priority === 'urgent' ? 'A' : 'R';
}

/** The patient's MRN: subject.identifier, else the contained Patient's MR (or first) identifier. */
function patientOf(
  request: FhirMedicationRequestJson,
): { system?: string; value: string } | undefined {
  const pick = (id: FhirIdentifierJson | undefined) =>
    id?.value
      ? id.system
        ? { system: id.system, value: id.value }
        : { value: id.value }
      : undefined;
  const direct = pick(request.subject?.identifier);
  if (direct) return direct;
  const ref = request.subject?.reference;
  const contained = request.contained?.find(
    (r) => r.resourceType === 'Patient' && (!ref || ref === `#${r.id ?? ''}`),
  );
  const ids = contained?.identifier ?? [];
  return pick(ids.find((i) => i.type?.coding?.some((c) => c.code === 'MR')) ?? ids[0]);
}

function asMedicationRequest(body: unknown): FhirMedicationRequestJson | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  return (body as { resourceType?: unknown }).resourceType === 'MedicationRequest'
    ? (body as FhirMedicationRequestJson)
    : undefined;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('the body is not valid JSON');
  }
}

async function drain(req: http.IncomingMessage): Promise<void> {
  for await (const _chunk of req as AsyncIterable<Buffer>) {
    // discard
  }
}
