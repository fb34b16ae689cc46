/**
 * normalizer: raw HL7 from the gateways' inbound topics to canonical, coded events
 * (configuration: libs/services/normalizer).
 */
import { startNormalizer } from '@ancillary/normalizer-service';
import { runMain } from '@ancillary/service-kit';

runMain('normalizer', (env) => startNormalizer(env));
