/**
 * The NestJS adapter of @ancillary/messaging-kafka: provides the service's Messaging facade
 * and MessageProducer, discovers @ConsumeTopic handlers, runs one consumer group per groupId,
 * and stops them gracefully (finish the record in hand, commit, disconnect) on shutdown.
 */
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import {
  type ConsumedMessage,
  type ConsumerRunnerOptions,
  MessageProducer,
  Messaging,
  type MessagingOptions,
  type Subscription,
} from '@ancillary/messaging-kafka';
import type { Logger } from '@ancillary/observability';
import { LOGGER, ReadinessRegistry } from '@ancillary/observability-nest';
import { CONSUME_TOPIC_METADATA, type ConsumeTopicMetadata } from './consume-topic.decorator';

export interface MessagingModuleOptions extends MessagingOptions {
  /** Default consumer group for this service's handlers. */
  groupId: string;
  /** Defaults for every consumer group (retry policy, concurrency, ...). */
  consumer?: Omit<ConsumerRunnerOptions, 'groupId' | 'subscriptions'>;
}

export const MESSAGING_OPTIONS = Symbol('ancillary.messaging.options');

export interface MessagingModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
  useFactory: (...args: never[]) => MessagingModuleOptions | Promise<MessagingModuleOptions>;
}

type Handler = (value: unknown, message: ConsumedMessage<unknown>) => unknown;

@Injectable()
export class MessagingLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  constructor(
    private readonly messaging: Messaging,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingModuleOptions,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly readiness: ReadinessRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.add(...this.messaging.readinessChecks());
    this.readiness.addLiveness(...this.messaging.livenessChecks());
    await this.messaging.connect();
  }

  async onApplicationBootstrap(): Promise<void> {
    const groups = new Map<string, Subscription<never>[]>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[methodName] as Handler;
        const meta = this.reflector.get<ConsumeTopicMetadata | undefined>(
          CONSUME_TOPIC_METADATA,
          method,
        );
        if (!meta) continue;
        const groupId = meta.groupId ?? this.options.groupId;
        const list = groups.get(groupId) ?? [];
        list.push({
          topic: meta.topic,
          ...(meta.retry ? { retry: meta.retry } : {}),
          handler: async (message: ConsumedMessage<never>) => {
            await method.call(instance, message.value, message);
          },
        });
        groups.set(groupId, list);
        this.logger.info(
          { topic: meta.topic.name, groupId, handler: `${wrapper.name}.${methodName}` },
          'handler registered',
        );
      }
    }
    for (const [groupId, subscriptions] of groups) {
      const runner = this.messaging.consumer({ ...this.options.consumer, groupId, subscriptions });
      await runner.start();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.messaging.close();
  }
}

@Module({})
export class MessagingModule {
  static forRootAsync(options: MessagingModuleAsyncOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: [
        {
          provide: MESSAGING_OPTIONS,
          useFactory: options.useFactory,
          inject: options.inject ?? [],
        },
        {
          provide: Messaging,
          useFactory: (opts: MessagingModuleOptions, logger: Logger) => new Messaging(opts, logger),
          inject: [MESSAGING_OPTIONS, LOGGER],
        },
        { provide: MessageProducer, useFactory: (m: Messaging) => m.producer, inject: [Messaging] },
        MessagingLifecycle,
      ],
      exports: [Messaging, MessageProducer],
    };
  }

  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return MessagingModule.forRootAsync({ useFactory: () => options });
  }
}
