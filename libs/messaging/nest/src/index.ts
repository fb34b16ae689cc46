export * from './consume-topic.decorator';
export * from './messaging.module';
