/**
 * The little of each untyped library that the benchmark uses, typed from its source
 * (node_modules/<name>/lib or dist). Only parsing; nothing here is used by the product.
 */

declare module 'simple-hl7' {
  /** A component: one string, or the subcomponents as a nested array. */
  export interface SimpleHl7Component {
    value: (string | string[])[];
  }
  /**
   * A field: `value` holds either component lists (no repetition) or, when the field text has
   * `~`, one nested field per repetition.
   */
  export interface SimpleHl7Field {
    value: (SimpleHl7Component[] | SimpleHl7Field)[];
  }
  export interface SimpleHl7Segment {
    name: string;
    /** fields[0] is field 1. */
    fields: SimpleHl7Field[];
    /** The field as encoded text (repetitions and components included). */
    getField(index: number): string;
  }
  export interface SimpleHl7Message {
    getSegment(name: string): SimpleHl7Segment | undefined;
    getSegments(name: string): SimpleHl7Segment[];
  }
  export class Parser {
    constructor(options?: { segmentSeperator?: string });
    parse(text: string): SimpleHl7Message;
  }

  /** lib/server/tcp-server.js: answers each frame with an AA built by createAckMessage. */
  export interface SimpleHl7TcpServer {
    /** The node:net server, once started. */
    server: import('node:net').Server;
    start(port: number, encoding?: string): void;
    stop(): void;
  }
  /** lib/client/tcp-client.js: one message awaiting its ACK at a time. */
  export interface SimpleHl7TcpClient {
    send(message: string, callback: (error: Error | null, ack?: SimpleHl7Message) => void): void;
    close(): void;
  }
  export const Server: {
    createTcpServer(
      options: object,
      handler: (error: Error | null | undefined, req?: unknown, res?: { end(): void }) => void,
    ): SimpleHl7TcpServer;
    createTcpClient(options: {
      host: string;
      port: number;
      keepalive?: boolean;
    }): SimpleHl7TcpClient;
  };
}

declare module 'hl7-standard' {
  /**
   * A field as hl7-standard stores it: plain text; a map of components (`OBX.5.1`…); or, when
   * the text has `~`, an array with one entry per repetition. It splits `&` into arrays too.
   */
  type Hl7StandardField =
    string | Record<string, string | string[]> | (string | Record<string, string | string[]>)[];
  interface Hl7StandardSegment {
    data: Record<string, Hl7StandardField | undefined>;
  }
  class HL7 {
    constructor(data: string, options?: { lineEndings?: string });
    transform(callback?: (error: Error | null) => void): void;
    getSegments(name: string): Hl7StandardSegment[];
  }
  export = HL7;
}

declare module 'tiny-hl7' {
  /** One object per segment, keyed by address (`OBX.5`, `OBX.5.1`, …), escapes decoded. */
  export function parse(text: string): Record<string, string>[];
}
