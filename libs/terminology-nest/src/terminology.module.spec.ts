/**
 * The module in a real Nest HTTP application (no Kafka needed): the store is global, the reload
 * endpoint swaps valid tables and refuses broken ones with their problems, the watcher reloads
 * on file changes, and every outcome is counted and logged.
 */
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsRegistry } from '@ancillary/observability';
import {
  DEFAULT_TERMINOLOGY_DIR,
  TerminologyLoadError,
  TerminologyStore,
} from '@ancillary/terminology';
import { captureLogger, waitFor, type CapturedLogger } from '@ancillary/testing';
import {
  terminologyEnvSchema,
  terminologyOptionsFrom,
  type TerminologyModuleOptions,
} from './terminology.config';
import { TerminologyModule } from './terminology.module';

/** A provider of another module: sees the store only because the module is global. */
@Injectable()
class Mapper {
  constructor(readonly store: TerminologyStore) {}
}

@Module({ providers: [Mapper] })
class FeatureModule {}

const NEW_DRUG =
  'NWH-RX,TEST1,Test drug,197361,amlodipine 5 MG Oral Tablet,99901-0999-01,Test (synthetic),TAB,Oral Tablet';

function copyOfTables(): string {
  const dir = mkdtempSync(join(tmpdir(), 'terminology-nest-'));
  cpSync(DEFAULT_TERMINOLOGY_DIR, dir, { recursive: true });
  return dir;
}

function appendRow(dir: string, file: string, row: string): void {
  const path = join(dir, file);
  writeFileSync(path, `${readFileSync(path, 'utf8').trimEnd()}\n${row}\n`);
}

async function boot(
  options: TerminologyModuleOptions,
): Promise<{ app: INestApplication; base: string }> {
  @Module({ imports: [TerminologyModule.forRoot(options), FeatureModule] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

async function reloads(result: string): Promise<number> {
  const metric = metricsRegistry().getSingleMetric('terminology_reloads_total');
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels['result'] === result)?.value ?? 0;
}

async function tablesInfo(): Promise<{ version: unknown; hash: unknown }[]> {
  const metric = metricsRegistry().getSingleMetric('terminology_tables_info');
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => v.value === 1)
    .map((v) => ({ version: v.labels['version'], hash: v.labels['hash'] }));
}

function messages(log: CapturedLogger): unknown[] {
  return log.lines().map((l) => l['msg']);
}

describe('TerminologyModule', () => {
  describe('without watching', () => {
    let dir: string;
    let log: CapturedLogger;
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      dir = copyOfTables();
      log = captureLogger('terminology-nest-test');
      ({ app, base } = await boot({ dir, watch: false, logger: log.logger }));
    });

    afterAll(async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('provides one store to every module and reports what it loaded', async () => {
      const store = app.get(TerminologyStore);
      expect(app.get(Mapper).store).toBe(store);
      expect(store.directory).toBe(dir);
      const summary = store.current.summary();
      expect(await tablesInfo()).toEqual([{ version: summary.version, hash: summary.contentHash }]);
      const loaded = log.lines().find((l) => l['msg'] === 'terminology loaded');
      expect(loaded?.['terminology']).toMatchObject({ version: '2026.12.0', formulary: 12 });
      const response = await fetch(`${base}/admin/terminology`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ version: '2026.12.0', formulary: 12 });
    });

    it('reloads on POST /admin/terminology/reload: unchanged, then changed', async () => {
      const unchangedBefore = await reloads('unchanged');
      const same = await fetch(`${base}/admin/terminology/reload`, { method: 'POST' });
      expect(same.status).toBe(200);
      expect(await same.json()).toMatchObject({ changed: false, formulary: 12 });
      expect(await reloads('unchanged')).toBe(unchangedBefore + 1);

      const changedBefore = await reloads('changed');
      appendRow(dir, 'formulary.csv', NEW_DRUG);
      const changed = await fetch(`${base}/admin/terminology/reload`, { method: 'POST' });
      expect(changed.status).toBe(200);
      const body = (await changed.json()) as { changed: boolean; contentHash: string };
      expect(body).toMatchObject({ changed: true, formulary: 13 });
      expect(await reloads('changed')).toBe(changedBefore + 1);
      expect(await tablesInfo()).toEqual([{ version: '2026.12.0', hash: body.contentHash }]);
      expect(
        app.get(TerminologyStore).current.formularyByNdc('NWH-RX', '99901099901'),
      ).toBeDefined();
      expect(log.lines()).toContainEqual(
        expect.objectContaining({ msg: 'terminology reloaded', trigger: 'manual' }),
      );
    });

    it('refuses broken tables with 422 naming file, line and column, and keeps the old ones', async () => {
      const store = app.get(TerminologyStore);
      const before = store.current;
      const invalidBefore = await reloads('invalid');
      appendRow(
        dir,
        'order-routes.csv',
        'IMAGING,http://www.ama-assn.org/go/cpt,7104,ris-main,NWH-RAD,x',
      );
      const response = await fetch(`${base}/admin/terminology/reload`, { method: 'POST' });
      expect(response.status).toBe(422);
      const body = (await response.json()) as { error: string; detail: string };
      expect(body.error).toBe('terminology tables are invalid; the previous version stays in use');
      expect(body.detail).toContain(
        'order-routes.csv line 5, column code: "7104" is not a CPT code',
      );
      expect(store.current).toBe(before);
      expect(await reloads('invalid')).toBe(invalidBefore + 1);
      expect(log.lines()).toContainEqual(
        expect.objectContaining({
          msg: 'terminology reload refused; the previous tables stay in use',
          level: 'error',
          trigger: 'manual',
        }),
      );
    });
  });

  describe('watching', () => {
    it('reloads when a file changes (trigger watch)', async () => {
      const dir = copyOfTables();
      const log = captureLogger('terminology-nest-watch');
      const { app } = await boot({ dir, watch: true, logger: log.logger, debounceMs: 50 });
      try {
        const store = app.get(TerminologyStore);
        appendRow(dir, 'formulary.csv', NEW_DRUG);
        await waitFor(() => store.current.summary().formulary === 13, { timeoutMs: 10_000 });
        await waitFor(() => messages(log).includes('terminology reloaded'), { timeoutMs: 5_000 });
        expect(log.lines()).toContainEqual(
          expect.objectContaining({ msg: 'terminology reloaded', trigger: 'watch' }),
        );
      } finally {
        await app.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('does not start on invalid tables', async () => {
    const dir = copyOfTables();
    try {
      appendRow(dir, 'formulary.csv', 'NWH-RX,BAD,Bad,not-a-code,x,1,x,TAB,Oral Tablet');
      const log = captureLogger('terminology-nest-invalid');
      await expect(boot({ dir, watch: false, logger: log.logger })).rejects.toThrow(
        TerminologyLoadError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('terminologyEnvSchema / terminologyOptionsFrom', () => {
  const { logger } = captureLogger('terminology-env');

  it('watches the lib tables by default', () => {
    const config = terminologyEnvSchema.parse({});
    expect(config).toEqual({ TERMINOLOGY_WATCH: true });
    expect(terminologyOptionsFrom(config, logger)).toEqual({ watch: true, logger });
  });

  it('reads a directory and the watch flag', () => {
    const config = terminologyEnvSchema.parse({
      TERMINOLOGY_DIR: '/etc/terminology',
      TERMINOLOGY_WATCH: 'false',
    });
    expect(terminologyOptionsFrom(config, logger)).toEqual({
      dir: '/etc/terminology',
      watch: false,
      logger,
    });
  });

  it('refuses an empty directory and a flag that is not a boolean', () => {
    expect(terminologyEnvSchema.safeParse({ TERMINOLOGY_DIR: '' }).success).toBe(false);
    expect(terminologyEnvSchema.safeParse({ TERMINOLOGY_WATCH: 'maybe' }).success).toBe(false);
  });
});
