/**
 * `POST /fhir/MedicationDispense` (FHIR R4 create, https://hl7.org/fhir/R4/http.html#create)
 * for pharmacy platforms that speak FHIR. The service runs without Nest's body parser: this
 * controller reads the exact bytes (they are what the envelope keeps), enforces its own size
 * limit and answers every refusal as an OperationOutcome.
 */
import { Controller, Inject, Post, Req, Res } from '@nestjs/common';
import { MessageProducer } from '@ancillary/messaging-kafka';
import { type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import type { TopicDefinition } from '@ancillary/contracts';
import type { Request, Response } from 'express';
import { FhirInboundGateway, type FhirInboundAnswer } from './fhir-inbound.gateway';

export interface FhirInboundOptions {
  sourceSystem: string;
  topic: TopicDefinition;
  /** Bodies above this are refused with 413 before they are read in full. */
  maxBodyBytes: number;
}

export const FHIR_INBOUND_OPTIONS = Symbol('ancillary.pharmacy-gateway.fhir-inbound');

const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

class BodyTooLargeError extends Error {}

/** The request body, refused as soon as it is known to exceed `limit` bytes. */
async function readBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

@Controller('fhir')
export class MedicationDispenseController {
  private readonly gateway: FhirInboundGateway;

  constructor(
    @Inject(FHIR_INBOUND_OPTIONS) private readonly options: FhirInboundOptions,
    producer: MessageProducer,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.gateway = new FhirInboundGateway({
      sourceSystem: options.sourceSystem,
      topic: options.topic,
      resourceType: 'MedicationDispense',
      producer,
      logger,
    });
  }

  @Post('MedicationDispense')
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    let answer: FhirInboundAnswer;
    try {
      const body = await readBody(req, this.options.maxBodyBytes);
      const peer = req.socket.remoteAddress;
      answer = await this.gateway.handle({
        contentType: req.headers['content-type'],
        body,
        peerAddress: peer ? `${peer}:${req.socket.remotePort ?? 0}` : null,
      });
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      answer = this.gateway.tooLarge(this.options.maxBodyBytes);
    }
    res.status(answer.status).set({ ...answer.headers, 'Content-Type': FHIR_CONTENT_TYPE });
    res.send(JSON.stringify(answer.body));
  }
}
