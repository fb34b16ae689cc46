/**
 * Where an order goes and in which lane: the repository asks an OrderRouter while it places the
 * order, so the routing decision is stored with the order (in its outbox event) in the same
 * transaction. The service implements it with the terminology tables (`terminologyOrderRouter`:
 * order-routes.csv and order-rules.csv); tests may pass a fixed one.
 */
import { PermanentError } from '@ancillary/messaging-kafka';
import {
  type OrderRouteEntry,
  type OrderRuleEntry,
  UnmappedCodeError,
} from '@ancillary/terminology';
import type { OrderCategory, OrderLane } from './order-codes';

export interface OrderRoute {
  /** The ancillary connection (a gateway's ORDER_DESTINATION), e.g. `lis-main`. */
  destination: string;
  /** The terminology facility whose tables map the order's codes outbound. */
  facility: string;
}

export interface OrderRule {
  lane: OrderLane;
  /** Whether the order's results are flagged high priority. */
  highPriorityResult: boolean;
}

export interface OrderRouter {
  /** @throws UnroutableOrderError when no route takes orders of this category and code. */
  route(category: OrderCategory, coding: { system: string | null; code: string }): OrderRoute;
  /** The rule of a FHIR request priority (routine | urgent | asap | stat). */
  rule(priority: string): OrderRule;
}

/** No route takes the order: it cannot be placed (the API answers 422 with this reason). */
export class UnroutableOrderError extends PermanentError {
  override readonly code = 'UNROUTABLE_ORDER';
}

/** What terminologyOrderRouter needs: the tables in service now (a TerminologyStore has them). */
export interface OrderRoutingTables {
  readonly current: {
    routeOrder(
      category: OrderCategory,
      coding: { system: string | null; code: string },
    ): OrderRouteEntry;
    orderRule(priority: string): OrderRuleEntry;
  };
}

/**
 * An OrderRouter over the terminology tables; every call reads `current`, so a reloaded table
 * routes the next order.
 */
export function terminologyOrderRouter(tables: OrderRoutingTables): OrderRouter {
  return {
    route(category, coding) {
      try {
        const entry = tables.current.routeOrder(category, coding);
        return { destination: entry.destination, facility: entry.facility };
      } catch (error) {
        if (error instanceof UnmappedCodeError) {
          throw new UnroutableOrderError(error.message, { cause: error });
        }
        throw error;
      }
    },
    rule(priority) {
      const entry = tables.current.orderRule(priority);
      return { lane: entry.lane, highPriorityResult: entry.highPriorityResult };
    },
  };
}
