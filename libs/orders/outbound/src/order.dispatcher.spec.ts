import { buildAck, Hl7Message } from '@ancillary/hl7-core';
import {
  MllpClientClosedError,
  MllpConnectionError,
  MllpResult,
  MllpServer,
  MllpTimeoutError,
  type MllpHandler,
} from '@ancillary/hl7-mllp';
import { waitFor } from '@ancillary/testing';
import { OrderDispatcher } from './order.dispatcher';

const order = (controlId: string) => {
  const message = Hl7Message.create({
    messageType: 'ORM^O01^ORM_O01',
    controlId,
    sendingApplication: 'ANCILLARY-HUB',
    receivingApplication: 'SIMLIS',
  });
  message.addSegment('ORC', ['NW', controlId]);
  return message;
};

describe('OrderDispatcher', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function ancillary(handler: MllpHandler): Promise<{ port: number; received: string[] }> {
    const received: string[] = [];
    const server = new MllpServer({
      host: '127.0.0.1',
      port: 0,
      handlerTimeoutMs: 0,
      closeTimeoutMs: 200, // handlers that never answer are cut off at the end of a test
      handler: (message, context) => {
        received.push(message.controlId);
        return handler(message, context);
      },
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    return { port, received };
  }

  function dispatcher(port: number, ackTimeoutMs = 10_000): OrderDispatcher {
    const d = new OrderDispatcher({
      destination: 'lis-test',
      host: '127.0.0.1',
      port,
      ackTimeoutMs,
    });
    cleanups.push(() => d.close());
    return d;
  }

  it('sends a STAT order before the routine orders that were waiting, after the one in flight', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { port, received } = await ancillary(async (message) => {
      if (message.controlId === 'R1') await gate;
      return MllpResult.accept();
    });
    const d = dispatcher(port);
    const answers = ['R1', 'R2', 'R3'].map((id) => d.send(order(id), 'ROUTINE'));
    await waitFor(() => received.length === 1, { description: 'R1 in flight' });
    expect(d.waiting('ROUTINE')).toBe(2);
    const stat = d.send(order('S1'), 'STAT');
    expect(d.waiting('STAT')).toBe(1);
    expect(d.waiting()).toBe(3);
    release();
    const acks = await Promise.all([...answers, stat]);
    expect(received).toEqual(['R1', 'S1', 'R2', 'R3']);
    expect(acks.map((a) => [a.get('MSA-1'), a.get('MSA-2')])).toEqual([
      ['AA', 'R1'],
      ['AA', 'R2'],
      ['AA', 'R3'],
      ['AA', 'S1'],
    ]);
    expect(d.waiting()).toBe(0);
  });

  it('resolves with a negative answer too (AR with its ERR), after a single attempt', async () => {
    const { port, received } = await ancillary(() =>
      MllpResult.reject([{ hl7ErrorCode: '103', text: 'Unknown test code' }]),
    );
    const ack = await dispatcher(port).send(order('R1'), 'ROUTINE');
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('ERR-8')).toBe('Unknown test code');
    expect(received).toEqual(['R1']);
  });

  it('resolves with an AE without resending it (retrying is the consumer’s job)', async () => {
    const { port, received } = await ancillary(() => MllpResult.error());
    const ack = await dispatcher(port).send(order('R1'), 'ROUTINE');
    expect(ack.get('MSA-1')).toBe('AE');
    expect(received).toEqual(['R1']);
  });

  it('passes an application acknowledgement through (ORR^O02 with the filler number)', async () => {
    const { port } = await ancillary((message) =>
      MllpResult.accept(
        undefined,
        Hl7Message.parse(
          `${buildAck(message, 'AA').toString().replace('ACK^O01^ACK', 'ORR^O02^ORR_O02')}ORC|OK|R1|F-1\r`,
        ),
      ),
    );
    const ack = await dispatcher(port).send(order('R1'), 'ROUTINE');
    expect(ack.messageType).toBe('ORR^O02');
    expect(ack.get('ORC-3')).toBe('F-1');
  });

  it('rejects with MllpConnectionError when nothing listens, and with MllpTimeoutError when no ACK comes', async () => {
    const { port: freePort } = await ancillary(() => MllpResult.accept());
    await cleanups.pop()?.(); // the server is gone: its port refuses connections
    await expect(dispatcher(freePort).send(order('R1'), 'ROUTINE')).rejects.toBeInstanceOf(
      MllpConnectionError,
    );

    const { port, received } = await ancillary(() => new Promise(() => undefined));
    await expect(dispatcher(port, 200).send(order('R2'), 'STAT')).rejects.toBeInstanceOf(
      MllpTimeoutError,
    );
    expect(received).toEqual(['R2']);
  });

  it('fails the waiting orders on close (they were never written) and refuses new ones', async () => {
    const { port, received } = await ancillary(() => new Promise(() => undefined));
    const d = new OrderDispatcher({
      destination: 'lis-test',
      host: '127.0.0.1',
      port,
      ackTimeoutMs: 300,
    });
    const first = d.send(order('R1'), 'ROUTINE');
    const waiting = d.send(order('R2'), 'ROUTINE');
    await waitFor(() => received.length === 1);
    const closing = d.close();
    await expect(waiting).rejects.toBeInstanceOf(MllpClientClosedError);
    await expect(first).rejects.toBeInstanceOf(MllpTimeoutError);
    await closing;
    await expect(d.send(order('R3'), 'STAT')).rejects.toBeInstanceOf(MllpClientClosedError);
    expect(received).toEqual(['R1']);
  });
});
