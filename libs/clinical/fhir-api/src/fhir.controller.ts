/**
 * FHIR R4 RESTful API under /fhir (https://hl7.org/fhir/R4/http.html): metadata, read, vread,
 * instance history and type search; create of Patient, ServiceRequest and MedicationRequest
 * (conditional with If-None-Exist) and update of the orders (their cancellation). Every answer
 * is `application/fhir+json`; every failure an OperationOutcome with its status; resources come
 * with ETag and Last-Modified. Each request runs in a server span that continues the caller's
 * W3C trace, so the order events a POST writes carry that trace on to the ancillaries.
 */
import { All, Controller, Get, Inject, Optional, Param, Post, Put, Req, Res } from '@nestjs/common';
import { MessageHeaders } from '@ancillary/contracts';
import {
  FHIR_ID_PATTERN,
  type FhirResourceType,
  isFhirResourceType,
  isOrderResourceType,
  parseSearchQuery,
  type StoredResource,
} from '@ancillary/fhir-store';
import { createLogger, describeError, getTracer, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { historyBundle, searchBundle, weakEtag } from './bundle';
import { capabilityStatement } from './capability-statement';
import { FHIR_API_OPTIONS, type FhirApiModuleOptions } from './fhir-api.options';
import { apiMetrics, type ApiMetrics } from './metrics';
import {
  FhirHttpError,
  operationOutcome,
  type OperationOutcomeIssue,
  toHttpError,
} from './operation-outcome';
import {
  DEFAULT_MAX_BODY_BYTES,
  parseIfMatch,
  parseIfNoneExist,
  readJsonBody,
} from './request-body';

export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

/** Result parameters that shape the answer rather than select resources. */
const FORMAT_PARAMETERS = new Set(['_format', '_pretty']);
const JSON_FORMATS = new Set([
  'json',
  'application/json',
  'application/fhir+json',
  'application/json+fhir',
]);

type Interaction =
  | 'capabilities'
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'search-type'
  | 'create'
  | 'update'
  | 'unsupported';

const WRITES: ReadonlySet<Interaction> = new Set(['create', 'update']);

/** A correlation id the caller sent that is safe to pass on, else a new one. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const tracer = getTracer('@ancillary/fhir-api');

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

function searchParams(req: Request): URLSearchParams {
  return new URL(req.originalUrl, 'http://placeholder').searchParams;
}

/** 406 when the client wants only XML (or another format this server does not write). */
function checkFormat(req: Request, params: URLSearchParams): boolean {
  const formats = params.getAll('_format');
  for (const format of formats) {
    if (!JSON_FORMATS.has(format.split(';')[0]?.trim() ?? '')) {
      throw FhirHttpError.of(
        406,
        'not-supported',
        `_format '${format}' is not supported: this server answers application/fhir+json`,
      );
    }
  }
  const accept = req.get('accept');
  if (formats.length === 0 && accept) {
    const types = accept.split(',').map((t) => t.split(';')[0]?.trim().toLowerCase() ?? '');
    const acceptable = types.some(
      (t) => t === '*/*' || t === 'application/*' || t.includes('json'),
    );
    if (!acceptable) {
      throw FhirHttpError.of(
        406,
        'not-supported',
        `none of the accepted types (${accept}) can be produced: this server answers application/fhir+json`,
      );
    }
  }
  return params.get('_pretty') === 'true';
}

function lastModified(resource: StoredResource): string {
  return resource.lastUpdated.toUTCString();
}

function issueSummary(issues: readonly OperationOutcomeIssue[]): string[] {
  return issues.map((i) => `${i.expression?.[0] ?? '-'} (${i.code})`);
}

@Controller('fhir')
export class FhirController {
  private readonly logger: Logger;
  private readonly metrics: ApiMetrics;
  private readonly published = new Date();

  constructor(
    @Inject(FHIR_API_OPTIONS) private readonly options: FhirApiModuleOptions,
    @Optional() @Inject(LOGGER) serviceLogger?: Logger,
  ) {
    this.logger =
      options.logger ?? serviceLogger ?? createLogger({ service: 'fhir-api', level: 'silent' });
    this.metrics = apiMetrics();
  }

  @Get('metadata')
  async metadata(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer('capabilities', '/fhir/metadata', req, res, () =>
      Promise.resolve({
        status: 200,
        body: capabilityStatement(this.baseUrl(req), this.published, {
          orders: this.options.orders !== undefined,
        }),
      }),
    );
  }

  @Get(':type')
  async search(
    @Param('type') type: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('search-type', '/fhir/:type', req, res, async () => {
      const resourceType = this.resourceType(type);
      const params = [...searchParams(req).entries()].filter(([n]) => !FORMAT_PARAMETERS.has(n));
      const query = parseSearchQuery(resourceType, params, {
        ...(this.options.defaultPageSize !== undefined
          ? { defaultCount: this.options.defaultPageSize }
          : {}),
        ...(this.options.maxPageSize !== undefined ? { maxCount: this.options.maxPageSize } : {}),
      });
      const result = await this.options.store.search(query);
      return { status: 200, body: searchBundle(this.baseUrl(req), query, result) };
    });
  }

  @Get(':type/:id')
  async read(
    @Param('type') type: string,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('read', '/fhir/:type/:id', req, res, async () => {
      const resourceType = this.resourceType(type);
      if (id === '_history') {
        throw FhirHttpError.of(405, 'not-supported', 'type-level history is not supported');
      }
      this.checkId(id);
      const found = await this.options.store.read(resourceType, id);
      if (!found) {
        throw FhirHttpError.of(404, 'not-found', `${resourceType}/${id} is not known`);
      }
      return this.resourceAnswer(req, found);
    });
  }

  @Get(':type/:id/_history')
  async history(
    @Param('type') type: string,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('history-instance', '/fhir/:type/:id/_history', req, res, async () => {
      const resourceType = this.resourceType(type);
      this.checkId(id);
      const versions = await this.options.store.history(resourceType, id);
      if (versions.length === 0) {
        throw FhirHttpError.of(404, 'not-found', `${resourceType}/${id} is not known`);
      }
      const base = this.baseUrl(req);
      return {
        status: 200,
        body: historyBundle(base, versions, `${base}/${resourceType}/${id}/_history`),
      };
    });
  }

  @Get(':type/:id/_history/:vid')
  async vread(
    @Param('type') type: string,
    @Param('id') id: string,
    @Param('vid') vid: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('vread', '/fhir/:type/:id/_history/:vid', req, res, async () => {
      const resourceType = this.resourceType(type);
      this.checkId(id);
      if (!/^[1-9]\d{0,8}$/.test(vid)) {
        throw FhirHttpError.of(400, 'value', `'${vid}' is not a version id (a positive integer)`);
      }
      const found = await this.options.store.vread(resourceType, id, Number(vid));
      if (!found) {
        throw FhirHttpError.of(
          404,
          'not-found',
          `version ${vid} of ${resourceType}/${id} is not known`,
        );
      }
      return this.resourceAnswer(req, found);
    });
  }

  /**
   * Create (https://hl7.org/fhir/R4/http.html#create): a Patient, or an order that is validated,
   * routed and stored with its outbox event. With `If-None-Exist: identifier=<system>|<value>` a
   * conditional create: 200 with the resource that identifier names, 412 when it names several.
   */
  @Post(':type')
  async create(
    @Param('type') type: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('create', '/fhir/:type', req, res, async () => {
      const resourceType = this.resourceType(type);
      const orders = this.options.orders;
      if (resourceType !== 'Patient' && !(isOrderResourceType(resourceType) && orders)) {
        throw FhirHttpError.of(
          405,
          'not-supported',
          `create is not supported for ${resourceType}: this server creates ${orders ? 'Patient, ServiceRequest and MedicationRequest' : 'Patient'} resources`,
        );
      }
      const header = req.get('if-none-exist');
      const ifNoneExist = header !== undefined ? parseIfNoneExist(header) : undefined;
      const body = await readJsonBody(req, this.maxBodyBytes);
      const receipt =
        isOrderResourceType(resourceType) && orders
          ? await this.options.store.placeOrder(resourceType, body, {
              router: orders.router,
              headers: this.eventHeaders(req),
              ...(ifNoneExist ? { ifNoneExist } : {}),
            })
          : await this.options.store.createPatient(body, ifNoneExist ? { ifNoneExist } : {});
      return this.writeAnswer(req, receipt.resource, receipt.outcome === 'CREATED' ? 201 : 200);
    });
  }

  /**
   * Update (https://hl7.org/fhir/R4/http.html#update) of a placed order: its cancellation
   * (ServiceRequest `revoked`, MedicationRequest `cancelled`), sent on to the ancillary; a repeat
   * changes nothing. `If-Match` (optional) guards against a version the client did not see.
   */
  @Put(':type/:id')
  async update(
    @Param('type') type: string,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('update', '/fhir/:type/:id', req, res, async () => {
      const resourceType = this.resourceType(type);
      const orders = this.options.orders;
      if (!isOrderResourceType(resourceType) || !orders) {
        throw FhirHttpError.of(
          405,
          'not-supported',
          `update is not supported for ${resourceType}${orders ? ': this server updates ServiceRequest and MedicationRequest (to cancel them)' : ''}`,
        );
      }
      this.checkId(id);
      const header = req.get('if-match');
      const ifMatch = header !== undefined ? parseIfMatch(header) : undefined;
      const body = await readJsonBody(req, this.maxBodyBytes);
      const receipt = await this.options.store.updateOrder(resourceType, id, body, {
        router: orders.router,
        headers: this.eventHeaders(req),
        ...(ifMatch !== undefined ? { ifMatch } : {}),
      });
      return this.writeAnswer(req, receipt.resource, 200);
    });
  }

  /** Anything else under /fhir: other methods, system-level or deeper paths. */
  @All(['', '*path'])
  async unsupported(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer('unsupported', '/fhir/*', req, res, () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw FhirHttpError.of(
          405,
          'not-supported',
          `${req.method} ${path} is not supported: this server reads and searches, creates with POST /{type} and updates orders with PUT /{type}/{id}`,
        );
      }
      throw FhirHttpError.of(404, 'not-supported', `${path} is not a supported FHIR interaction`);
    });
  }

  private resourceType(type: string): FhirResourceType {
    if (!isFhirResourceType(type)) {
      throw FhirHttpError.of(
        404,
        'not-supported',
        `resource type '${type}' is not supported by this server`,
      );
    }
    return type;
  }

  private checkId(id: string): void {
    if (!FHIR_ID_PATTERN.test(id)) {
      throw FhirHttpError.of(400, 'value', `'${id}' is not a FHIR id ([A-Za-z0-9-.]{1,64})`);
    }
  }

  private resourceAnswer(req: Request, found: StoredResource): Answer {
    const etag = weakEtag(found.versionId);
    const headers = {
      ETag: etag,
      'Last-Modified': lastModified(found),
      'Content-Location': `${this.baseUrl(req)}/${found.resourceType}/${found.id}/_history/${found.versionId}`,
    };
    const ifNoneMatch = req.get('if-none-match');
    if (ifNoneMatch?.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      return { status: 304, headers };
    }
    return { status: 200, body: found.resource, headers };
  }

  /**
   * The answer to a create or update: the resource (or, with `Prefer: return=minimal`, nothing)
   * with its ETag, Last-Modified and Location (https://hl7.org/fhir/R4/http.html#ops).
   */
  private writeAnswer(req: Request, resource: StoredResource, status: 200 | 201): Answer {
    const location = `${this.baseUrl(req)}/${resource.resourceType}/${resource.id}/_history/${resource.versionId}`;
    const headers = {
      ETag: weakEtag(resource.versionId),
      'Last-Modified': lastModified(resource),
      Location: location,
      'Content-Location': location,
    };
    const prefer = req.get('prefer')?.toLowerCase() ?? '';
    if (prefer.includes('return=minimal')) return { status, headers };
    if (prefer.includes('return=operationoutcome')) {
      return {
        status,
        headers,
        body: operationOutcome([
          {
            severity: 'information',
            code: 'informational',
            diagnostics: `${resource.resourceType}/${resource.id} version ${resource.versionId} ${status === 201 ? 'created' : 'stored'}`,
          },
        ]),
      };
    }
    return { status, headers, body: resource.resource };
  }

  /** Kafka headers for the events a write produces (the trace context is the store's to add). */
  private eventHeaders(req: Request): Record<string, string> {
    const sent = req.get(MessageHeaders.correlationId);
    return {
      [MessageHeaders.correlationId]: sent && CORRELATION_ID.test(sent) ? sent : randomUUID(),
    };
  }

  private get maxBodyBytes(): number {
    return this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  private baseUrl(req: Request): string {
    if (this.options.baseUrl) return this.options.baseUrl.replace(/\/+$/, '');
    const path = req.originalUrl.split('?')[0] ?? '';
    const mount = path.search(/\/fhir(\/|$)/);
    const prefix = mount >= 0 ? path.slice(0, mount) : '';
    return `${req.protocol}://${req.get('host') ?? 'localhost'}${prefix}/fhir`;
  }

  /**
   * Runs a handler in a server span (continuing the caller's trace) and writes its answer, or
   * its failure as an OperationOutcome.
   */
  private async answer(
    interaction: Interaction,
    route: string,
    req: Request,
    res: Response,
    handler: () => Promise<Answer>,
  ): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'http.route': route,
          'fhir.interaction': interaction,
        },
      },
      parent,
    );
    await context.with(trace.setSpan(parent, span), () =>
      this.run(interaction, req, res, handler).then(
        (status) => {
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
        (error: unknown) => {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          throw error;
        },
      ),
    );
  }

  private async run(
    interaction: Interaction,
    req: Request,
    res: Response,
    handler: () => Promise<Answer>,
  ): Promise<number> {
    const stop = this.metrics.seconds.startTimer({ interaction });
    let answer: Answer;
    let pretty = false;
    try {
      pretty = checkFormat(req, searchParams(req));
      answer = await handler();
    } catch (error) {
      const http = toHttpError(error);
      const details = {
        interaction,
        method: req.method,
        // The path only: query strings can carry identifiers (PHI).
        path: req.originalUrl.split('?')[0],
        status: http.status,
      };
      if (http.status >= 500) {
        this.logger.error({ ...details, ...describeError(error) }, 'FHIR request failed');
      } else if (WRITES.has(interaction)) {
        // Elements and issue codes only: diagnostics may quote what the client sent.
        const type = req.params['type'];
        this.metrics.refusals.inc({
          interaction,
          resource_type: typeof type === 'string' && isFhirResourceType(type) ? type : 'unknown',
          code: http.issues[0]?.code ?? 'unknown',
        });
        this.logger.info({ ...details, issues: issueSummary(http.issues) }, 'FHIR write refused');
      } else {
        this.logger.debug({ ...details, ...describeError(error) }, 'FHIR request refused');
      }
      answer = { status: http.status, body: operationOutcome(http.issues), headers: http.headers };
    }
    this.metrics.requests.inc({ interaction, status: String(answer.status) });
    stop();
    res.status(answer.status);
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    if (answer.body === undefined) {
      res.end();
      return answer.status;
    }
    res.setHeader('Content-Type', FHIR_CONTENT_TYPE);
    res.send(JSON.stringify(answer.body, null, pretty ? 2 : undefined));
    return answer.status;
  }
}
