export { createLogger, redactUrl, redactUserinfo, type Logger } from './logger.ts';
export {
  contextFromHeaders,
  inSpan,
  SpanKind,
  SpanStatusCode,
  startTracing,
  traceHeaders,
  tracer,
  tracingRequested,
  type Span,
} from './tracing.ts';
