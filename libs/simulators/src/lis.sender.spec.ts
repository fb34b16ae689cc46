/**
 * The sender against a real MllpServer from @ancillary/hl7-mllp on an ephemeral loopback port
 * (no stack needed): answers counted by code, malformed bytes answered AR, dependencies kept,
 * pacing by absolute time, timeouts and refused connections reported as such.
 */
import type { Hl7Message } from '@ancillary/hl7-core';
import { MllpResult, MllpServer, type MllpHandler } from '@ancillary/hl7-mllp';
import { loadTerminology } from '@ancillary/terminology';
import * as net from 'node:net';
import { labCatalogueFromTerminology } from './lab-catalogue';
import { LisSender, sendLisTraffic, type OutboundMessage } from './lis.sender';
import { LisTrafficGenerator, type GeneratedMessage } from './oru-r01.generator';
import { captureLogger } from '@ancillary/testing';

const catalogue = labCatalogueFromTerminology(loadTerminology());
const LOOPBACK = '127.0.0.1';

interface Arrival {
  controlId: string;
  at: number;
}

describe('LisSender against a real MLLP server', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startServer(handler: MllpHandler = () => MllpResult.accept()) {
    const arrivals: Arrival[] = [];
    const unparseable: Buffer[] = [];
    const server = new MllpServer({
      host: LOOPBACK,
      port: 0,
      handler: async (message: Hl7Message, context) => {
        arrivals.push({ controlId: message.controlId, at: Date.now() });
        return handler(message, context);
      },
      onUnparseable: (raw) => {
        unparseable.push(raw);
      },
      closeTimeoutMs: 2000,
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    return { port, arrivals, unparseable };
  }

  function generator(seed = 11) {
    return new LisTrafficGenerator({
      catalogue,
      seed,
      mix: { corrections: 0.12, duplicates: 0.1, malformed: 0.08, unmapped: 0.04, critical: 0.1 },
    });
  }

  it('sends generated traffic over several connections and counts every answer by code', async () => {
    const { port, arrivals, unparseable } = await startServer();
    const traffic = generator();
    const sent: GeneratedMessage[] = [];
    const report = await sendLisTraffic({
      host: LOOPBACK,
      port,
      connections: 3,
      count: 250,
      source: () => {
        const m = traffic.next();
        sent.push(m);
        return m;
      },
    });
    const malformed = sent.filter((m) => !m.parseable).length;
    expect(malformed).toBeGreaterThan(5);
    expect(report.sent).toBe(250);
    expect(report.answered).toBe(250);
    expect(report.counts.AA).toBe(250 - malformed);
    expect(report.counts.AR).toBe(malformed);
    expect(report.unexpected).toBe(0);
    expect(report.records.every((r) => r.asExpected === true)).toBe(true);
    expect(report.connections).toBe(3);
    expect(new Set(report.records.map((r) => r.connection))).toEqual(new Set([0, 1, 2]));
    expect(report.latencyMs.count).toBe(250);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
    expect(report.achievedRate).toBeGreaterThan(0);
    // the server got exactly the parseable messages (duplicates twice) and the malformed bytes
    expect(arrivals).toHaveLength(250 - malformed);
    expect(unparseable).toHaveLength(malformed);
    for (const m of sent.filter((x) => !x.parseable)) {
      expect(unparseable.some((b) => b.equals(m.bytes))).toBe(true);
    }
  });

  it('sends a duplicate or a correction only after the message it depends on was answered', async () => {
    // a slow server makes concurrent connections overtake each other if nothing holds them back
    const { port, arrivals } = await startServer(async () => {
      await new Promise((r) => setTimeout(r, 3));
      return MllpResult.accept();
    });
    const traffic = generator(12);
    const sent: GeneratedMessage[] = [];
    const report = await sendLisTraffic({
      host: LOOPBACK,
      port,
      connections: 4,
      count: 150,
      source: () => {
        const m = traffic.next();
        sent.push(m);
        return m;
      },
    });
    expect(report.unexpected).toBe(0);
    const dependent = sent.filter((m) => m.dependsOn !== undefined);
    expect(dependent.length).toBeGreaterThan(10);
    const answeredAt = new Map<string, number>();
    for (const r of report.records) {
      if (!answeredAt.has(r.message.controlId)) {
        answeredAt.set(r.message.controlId, r.sentAt + r.latencyMs);
      }
    }
    for (const m of dependent) {
      const original = arrivals.findIndex((a) => a.controlId === m.dependsOn);
      const own =
        m.kind === 'duplicate'
          ? arrivals.findIndex((a, i) => i > original && a.controlId === m.controlId)
          : arrivals.findIndex((a) => a.controlId === m.controlId);
      expect(original).toBeGreaterThanOrEqual(0);
      expect(own).toBeGreaterThan(original);
    }
  });

  it('paces by absolute time: 100 msg/s for 60 messages spreads them over 0.6 s without drift', async () => {
    const { port } = await startServer();
    const traffic = generator(13);
    const report = await sendLisTraffic({
      host: LOOPBACK,
      port,
      rate: 100,
      count: 60,
      source: () => traffic.next(),
    });
    const sentAt = report.records.map((r) => r.sentAt).sort((a, b) => a - b);
    const span = sentAt[sentAt.length - 1]! - sentAt[0]!;
    // 59 intervals of 10 ms; a loaded machine may delay single timers, not the schedule
    expect(span).toBeGreaterThanOrEqual(560);
    expect(span).toBeLessThan(1200);
    expect(report.offeredRate).toBe(100);
    expect(report.achievedRate).toBeGreaterThan(45);
    expect(report.achievedRate).toBeLessThan(110);
  });

  it('stops scheduling after the duration', async () => {
    const { port } = await startServer();
    const traffic = generator(14);
    const report = await sendLisTraffic({
      host: LOOPBACK,
      port,
      rate: 50,
      durationMs: 500,
      source: () => traffic.next(),
    });
    // due times 0, 20, … 480 ms are inside the 500 ms window
    expect(report.sent).toBe(25);
    expect(report.durationSeconds).toBeGreaterThanOrEqual(0.48);
  });

  it('reports AE and AR answers, timeouts and a receiver that is not there', async () => {
    const { port } = await startServer((message) => {
      const id = message.controlId;
      if (id.endsWith('1')) return MllpResult.error([], 'database unavailable');
      if (id.endsWith('2'))
        return MllpResult.reject([{ hl7ErrorCode: '204', text: 'Unknown patient' }]);
      if (id.endsWith('3'))
        return new Promise((r) => {
          setTimeout(() => {
            r(MllpResult.accept());
          }, 1500);
        });
      return MllpResult.accept();
    });
    const { logger, lines } = captureLogger('simulators-test', 'warn');
    const traffic = new LisTrafficGenerator({
      catalogue,
      seed: 15,
      mix: { corrections: 0, duplicates: 0, malformed: 0, unmapped: 0, critical: 0 },
    });
    const report = await sendLisTraffic({
      host: LOOPBACK,
      port,
      count: 10,
      ackTimeoutMs: 400,
      logger,
      source: () => traffic.next(),
    });
    // control ids …01 … …10: one each ending in 1, 2, 3; 0 and 4–9 accepted
    expect(report.counts).toMatchObject({ AA: 7, AE: 1, AR: 1, timeout: 1 });
    expect(report.unexpected).toBe(3);
    const ar = report.records.find((r) => r.outcome === 'AR');
    expect(ar?.errorText).toContain('Unknown patient');
    const timedOut = report.records.find((r) => r.outcome === 'timeout');
    expect(timedOut?.latencyMs).toBeGreaterThanOrEqual(390);
    expect(
      lines().filter((l) => l['msg'] === 'simulated LIS message not answered as expected').length,
    ).toBe(3);

    // nothing listens on a port we just closed
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, LOOPBACK, r));
    const freePort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => {
      closed.close(() => {
        r();
      });
    });
    const refused = await sendLisTraffic({
      host: LOOPBACK,
      port: freePort,
      count: 3,
      source: () => traffic.next(),
    });
    expect(refused.counts['connection-error']).toBe(3);
    expect(refused.answered).toBe(0);
    expect(refused.records[0]?.errorText).toMatch(/ECONNREFUSED|connect/);
  });

  it('stops early when its signal aborts, and reports progress while running', async () => {
    const { port } = await startServer();
    const traffic = generator(16);
    const abort = new AbortController();
    const sender = new LisSender<OutboundMessage>({
      host: LOOPBACK,
      port,
      rate: 200,
      count: 10_000,
      signal: abort.signal,
      source: () => traffic.next(),
      onRecord: (record) => {
        if (record.message.seq === 20) abort.abort();
      },
    });
    const running = sender.run();
    const report = await running;
    expect(report.stoppedEarly).toBe(true);
    expect(report.sent).toBeGreaterThanOrEqual(20);
    expect(report.sent).toBeLessThan(40);
    expect(sender.progress().settled).toBe(report.sent);
    await expect(sender.run()).rejects.toThrow(/once/);
  });

  it('refuses nonsense options', () => {
    const source = () => undefined;
    expect(() => new LisSender({ host: LOOPBACK, port: 1, source, connections: 0 })).toThrow(
      RangeError,
    );
    expect(() => new LisSender({ host: LOOPBACK, port: 1, source, rate: -1 })).toThrow(RangeError);
    expect(() => new LisSender({ host: LOOPBACK, port: 1, source, durationMs: 0 })).toThrow(
      RangeError,
    );
  });
});
