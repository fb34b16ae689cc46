/**
 * Avro encoding through a Confluent-compatible schema registry. Records are framed the
 * Confluent way (magic byte 0, 4-byte schema id, Avro binary), so any Confluent-compatible
 * consumer — an analytics team's Spark job as much as our own services — can read them.
 *
 * Producers encode with the exact schema this code was built with (looked up by content,
 * not "latest"), and consumers decode with schema resolution from the writer's schema into
 * the reader schema of this code, so a topic can hold several backward-compatible versions.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { ValueContract } from '@ancillary/contracts';
import avro from 'avsc';
import Timeout from 'mappersmith/middleware/timeout';
import {
  RegistryUnavailableError,
  SchemaCompatibilityError,
  SchemaNotRegisteredError,
  SchemaViolationError,
} from './errors';

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

export interface AvroCodecOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:18081/apis/ccompat/v7 */
  registryUrl: string;
  /** Client id sent to the registry (User-Agent). */
  clientId?: string;
  /** Deadline for one registry request (each retry gets its own); default 10 s. */
  requestTimeoutMs?: number;
}

interface ReaderEntry {
  type: avro.Type;
  resolvers: Map<number, ReturnType<avro.Type['createResolver']>>;
}

export class AvroCodec {
  readonly registry: SchemaRegistry;
  private readonly writerIds = new Map<string, Promise<number>>();
  private readonly readers = new Map<string, ReaderEntry>();
  private readonly writerTypes = new Map<number, Promise<avro.Type>>();

  constructor(options: AvroCodecOptions) {
    this.registry = new SchemaRegistry({
      host: options.registryUrl.replace(/\/+$/, ''),
      clientId: options.clientId ?? 'ancillary-hub',
      retry: { retries: 2, maxRetryTimeInSecs: 2 },
      // Without a deadline a registry that accepts the connection but never answers holds
      // a publish (and a service's start-up) forever; mappersmith has no default timeout.
      middlewares: [Timeout(options.requestTimeoutMs ?? 10_000)],
    });
  }

  /**
   * Registers `contract` under `subject`. The registry enforces the subject's compatibility
   * rule (BACKWARD): an incompatible change is refused with SchemaCompatibilityError.
   */
  async register(subject: string, contract: ValueContract): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: SchemaType.AVRO, schema: contract.schema },
        { subject },
      );
      this.writerIds.set(cacheKey(subject, contract), Promise.resolve(id));
      return id;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 422) {
        throw new SchemaCompatibilityError(
          `schema ${contract.name} (${contract.source}) is not compatible with subject ${subject}: ${messageOf(error)}`,
          { cause: error },
        );
      }
      throw classifyRegistryError(error, `registering ${contract.name} under ${subject}`);
    }
  }

  /** The registry id of `contract` under `subject`; fails if provisioning has not registered it. */
  async writerId(subject: string, contract: ValueContract): Promise<number> {
    const key = cacheKey(subject, contract);
    let id = this.writerIds.get(key);
    if (!id) {
      id = this.registry
        .getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: contract.schema })
        .catch((error: unknown) => {
          this.writerIds.delete(key);
          if (statusOf(error) === 404) {
            throw new SchemaNotRegisteredError(
              `schema ${contract.name} is not registered under ${subject}; run the contracts provisioning step`,
              { cause: error },
            );
          }
          throw classifyRegistryError(error, `looking up ${contract.name} under ${subject}`);
        });
      this.writerIds.set(key, id);
    }
    return id;
  }

  async encode(subject: string, contract: ValueContract, value: unknown): Promise<Buffer> {
    const id = await this.writerId(subject, contract);
    const type = this.reader(contract).type;
    let body: Buffer;
    try {
      body = type.toBuffer(value);
    } catch (error) {
      const paths: string[] = [];
      type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
      throw new SchemaViolationError(
        `value does not match ${contract.name}${paths.length ? ` at ${paths.join(', ')}` : ''}`,
        { cause: error },
      );
    }
    const header = Buffer.alloc(HEADER_LENGTH);
    header.writeUInt8(MAGIC_BYTE, 0);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, body]);
  }

  /** Decodes Confluent-framed Avro written with any registered schema into `contract`'s shape. */
  async decode<T>(contract: ValueContract, buffer: Buffer | null): Promise<T> {
    if (!buffer || buffer.length < HEADER_LENGTH || buffer.readUInt8(0) !== MAGIC_BYTE) {
      throw new SchemaViolationError(
        `record is not Confluent-framed Avro (${buffer ? `${buffer.length} bytes` : 'null value'})`,
      );
    }
    const writerId = buffer.readInt32BE(1);
    const reader = this.reader(contract);
    let resolver = reader.resolvers.get(writerId);
    if (!resolver) {
      const writer = await this.writerType(writerId);
      try {
        resolver = reader.type.createResolver(writer);
      } catch (error) {
        throw new SchemaViolationError(
          `writer schema ${writerId} cannot be read as ${contract.name}: ${messageOf(error)}`,
          { cause: error },
        );
      }
      reader.resolvers.set(writerId, resolver);
    }
    try {
      return reader.type.fromBuffer(buffer.subarray(HEADER_LENGTH), resolver) as T;
    } catch (error) {
      throw new SchemaViolationError(
        `record does not decode as ${contract.name}: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Decodes with the writer's own schema, whatever record it is (tools that inspect any
   * topic, such as tools/kafka/tail.ts). Services decode with decode() and their contract.
   */
  async decodeAny(buffer: Buffer | null): Promise<unknown> {
    if (!buffer || buffer.length < HEADER_LENGTH || buffer.readUInt8(0) !== MAGIC_BYTE) {
      throw new SchemaViolationError('record is not Confluent-framed Avro');
    }
    const writer = await this.writerType(buffer.readInt32BE(1));
    return writer.fromBuffer(buffer.subarray(HEADER_LENGTH));
  }

  private reader(contract: ValueContract): ReaderEntry {
    // Keyed by the schema text, not the record name: two versions of one record share a name.
    let entry = this.readers.get(contract.schema);
    if (!entry) {
      entry = {
        type: avro.Type.forSchema(JSON.parse(contract.schema) as avro.Schema),
        resolvers: new Map(),
      };
      this.readers.set(contract.schema, entry);
    }
    return entry;
  }

  private writerType(id: number): Promise<avro.Type> {
    let type = this.writerTypes.get(id);
    if (!type) {
      type = this.registry
        .getSchema(id)
        .then((schema) => schema as unknown as avro.Type)
        .catch((error: unknown) => {
          this.writerTypes.delete(id);
          if (statusOf(error) === 404) {
            throw new SchemaViolationError(
              `record names schema id ${id}, which the registry does not know`,
              {
                cause: error,
              },
            );
          }
          throw classifyRegistryError(error, `fetching schema ${id}`);
        });
      this.writerTypes.set(id, type);
    }
    return type;
  }
}

function cacheKey(subject: string, contract: ValueContract): string {
  return `${subject}\u0000${contract.schema}`;
}

function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error) {
    const status = error.status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Anything but a definite answer from the registry (404/409/422) may pass: retry it. */
function classifyRegistryError(error: unknown, doing: string): RegistryUnavailableError {
  return new RegistryUnavailableError(
    `schema registry failed while ${doing}: ${messageOf(error)}`,
    {
      cause: error,
    },
  );
}
