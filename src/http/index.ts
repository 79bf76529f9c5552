export { type AppDeps, buildApp, depthExceeds, type HealthSource, MAX_JSON_DEPTH } from './app.ts';
export { type Caller, McpEndpoint, type McpEndpointOptions } from './mcp-endpoint.ts';
export { Metrics, type MetricsSource } from './metrics.ts';
export { deferContinue } from './continue.ts';
