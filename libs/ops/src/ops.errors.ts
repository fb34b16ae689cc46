/**
 * Errors of the operations tools. They are not PlatformErrors (nothing here is consumed from a
 * topic and dead-lettered): they tell the command-line wrapper whether the operator asked for
 * something impossible (exit status 2, fix the command) or the infrastructure failed (exit
 * status 2, fix the platform), as opposed to records that failed (exit status 1).
 */
export abstract class OpsError extends Error {
  /** A short stable code for logs and metrics. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The options cannot be acted on: a topic that is not a dead-letter topic, a bad window, … */
export class InvalidOpsOptionsError extends OpsError {
  readonly code = 'INVALID_OPTIONS';
}

/** A topic the tool needs does not exist on the cluster. */
export class TopicNotFoundError extends OpsError {
  readonly code = 'TOPIC_NOT_FOUND';
}

/** Another replay of the same dead-letter topic holds its consumer group. */
export class ReplayInProgressError extends OpsError {
  readonly code = 'REPLAY_IN_PROGRESS';
}

/**
 * The replay group's committed metadata is not a replay state this tool wrote: someone else
 * committed to `ops.replay.<dlt>`. Nothing is replayed until an operator looks at it.
 */
export class ReplayStateError extends OpsError {
  readonly code = 'REPLAY_STATE_INVALID';
}

/**
 * Reading a bounded offset range did not complete: the consumer crashed, or no record arrived
 * for too long although the end offsets captured at start were not reached.
 */
export class TopicReadError extends OpsError {
  readonly code = 'TOPIC_READ_FAILED';
}

/** The clinical repository could not be queried (reconcile). */
export class ChartQueryError extends OpsError {
  readonly code = 'CHART_QUERY_FAILED';
}
