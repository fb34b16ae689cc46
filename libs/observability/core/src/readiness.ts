/**
 * A dependency a service cannot work without (broker, registry, database, its consumer groups).
 * /ready runs every registered check, each bounded in time, and answers 503 naming the failures.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}
