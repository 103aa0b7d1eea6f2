export type * from './types.ts';
export * from './errors.ts';
export { subjectMatches } from './subject-match.ts';
export { MemoryBus } from './memory-bus.ts';
export { NatsBus, type NatsBusOptions } from './nats-bus.ts';
export { JsonText, requestJson } from './request-json.ts';
