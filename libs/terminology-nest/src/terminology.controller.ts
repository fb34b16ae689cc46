/**
 * Reloads the code-set tables on demand (the file watcher does it on its own; this is for
 * deployments where files arrive without file events, and for runbooks: "add the row, reload,
 * replay the dead letters"). A broken table is refused with its problems and the old one stays.
 */
import { Controller, Get, HttpCode, HttpException, HttpStatus, Post } from '@nestjs/common';
import { TerminologyStore, type TerminologySummary } from '@ancillary/terminology';

@Controller('admin/terminology')
export class TerminologyController {
  constructor(private readonly store: TerminologyStore) {}

  /** The tables in use: version, content hash, row counts. */
  @Get()
  current(): TerminologySummary {
    return this.store.current.summary();
  }

  /** 200 with the summary (and whether anything changed); 422 naming every problem when refused. */
  @Post('reload')
  @HttpCode(200)
  reload(): TerminologySummary & { changed: boolean } {
    const outcome = this.store.reload('manual');
    if (!outcome.ok) {
      throw new HttpException(
        {
          error: 'terminology tables are invalid; the previous version stays in use',
          detail: outcome.error.message,
        },
        HttpStatus.UNPROCESSABLE_ENTITY,
      );
    }
    return { ...outcome.terminology.summary(), changed: outcome.changed };
  }
}
