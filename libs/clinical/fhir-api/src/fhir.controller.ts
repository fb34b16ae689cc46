/**
 * FHIR R4 RESTful read and search under /fhir (https://hl7.org/fhir/R4/http.html): metadata,
 * read, vread, instance history and type search. Every answer is `application/fhir+json`;
 * every failure an OperationOutcome with its status; reads carry ETag and Last-Modified.
 */
import { All, Controller, Get, Inject, Optional, Param, Req, Res } from '@nestjs/common';
import {
  FHIR_ID_PATTERN,
  type FhirResourceType,
  isFhirResourceType,
  parseSearchQuery,
  type StoredResource,
} from '@ancillary/fhir-store';
import { createLogger, describeError, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import type { Request, Response } from 'express';
import { historyBundle, searchBundle, weakEtag } from './bundle';
import { capabilityStatement } from './capability-statement';
import { FHIR_API_OPTIONS, type FhirApiModuleOptions } from './fhir-api.options';
import { apiMetrics, type ApiMetrics } from './metrics';
import { FhirHttpError, operationOutcome, toHttpError } from './operation-outcome';

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
  'capabilities' | 'read' | 'vread' | 'history-instance' | 'search-type' | 'unsupported';

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
    await this.answer('capabilities', req, res, () =>
      Promise.resolve({
        status: 200,
        body: capabilityStatement(this.baseUrl(req), this.published),
      }),
    );
  }

  @Get(':type')
  async search(
    @Param('type') type: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer('search-type', req, res, async () => {
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
    await this.answer('read', req, res, async () => {
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
    await this.answer('history-instance', req, res, async () => {
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
    await this.answer('vread', req, res, async () => {
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

  /** Anything else under /fhir: other methods, system-level or deeper paths. */
  @All(['', '*path'])
  async unsupported(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer('unsupported', req, res, () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw FhirHttpError.of(
          405,
          'not-supported',
          `${req.method} ${path}: this server is read-only (read, vread, history, search)`,
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

  private baseUrl(req: Request): string {
    if (this.options.baseUrl) return this.options.baseUrl.replace(/\/+$/, '');
    const path = req.originalUrl.split('?')[0] ?? '';
    const mount = path.search(/\/fhir(\/|$)/);
    const prefix = mount >= 0 ? path.slice(0, mount) : '';
    return `${req.protocol}://${req.get('host') ?? 'localhost'}${prefix}/fhir`;
  }

  /** Runs a handler and writes its answer, or its failure as an OperationOutcome. */
  private async answer(
    interaction: Interaction,
    req: Request,
    res: Response,
    handler: () => Promise<Answer>,
  ): Promise<void> {
    const stop = this.metrics.seconds.startTimer({ interaction });
    let answer: Answer;
    let pretty = false;
    try {
      pretty = checkFormat(req, searchParams(req));
      answer = await handler();
    } catch (error) {
      const http = toHttpError(error);
      const context = {
        interaction,
        method: req.method,
        // The path only: query strings can carry identifiers (PHI).
        path: req.originalUrl.split('?')[0],
        status: http.status,
        ...describeError(error),
      };
      if (http.status >= 500) this.logger.error(context, 'FHIR request failed');
      else this.logger.debug(context, 'FHIR request refused');
      answer = { status: http.status, body: operationOutcome(http.issues), headers: http.headers };
    }
    this.metrics.requests.inc({ interaction, status: String(answer.status) });
    stop();
    res.status(answer.status);
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    if (answer.body === undefined) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', FHIR_CONTENT_TYPE);
    res.send(JSON.stringify(answer.body, null, pretty ? 2 : undefined));
  }
}
