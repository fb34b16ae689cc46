/**
 * billing-trigger: completed clinical work to charge events, and charge events to the billing
 * engine as DFT^P03 (configuration: libs/services/billing-trigger).
 */
import { startBillingTrigger } from '@ancillary/billing-trigger-service';
import { runMain } from '@ancillary/service-kit';

runMain('billing-trigger', (env) => startBillingTrigger(env));
