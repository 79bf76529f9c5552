import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSource {
  notes(): number;
  chunks(): number;
  sessions(): number;
  lagSeconds(): number;
}

/** Prometheus metrics for one daemon (a registry of its own, so tests can build several). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly mcpRequests: Counter<'method' | 'tool' | 'era'>;
  readonly mcpDuration: Histogram<'method' | 'tool'>;
  readonly toolCalls: Counter<'tool' | 'outcome'>;
  readonly errors: Counter<'code'>;
  readonly embedSeconds: Histogram<never>;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'notes_mcp_' });
    this.httpRequests = new Counter({
      name: 'notes_mcp_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'status'],
      registers,
    });
    this.mcpRequests = new Counter({
      name: 'notes_mcp_mcp_requests_total',
      help: 'MCP requests by JSON-RPC method, tool name and protocol era',
      labelNames: ['method', 'tool', 'era'],
      registers,
    });
    this.mcpDuration = new Histogram({
      name: 'notes_mcp_mcp_request_duration_seconds',
      help: 'Time from request to the end of its response, by MCP method and tool',
      labelNames: ['method', 'tool'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    });
    this.toolCalls = new Counter({
      name: 'notes_mcp_tool_calls_total',
      help: 'Tool calls by tool and outcome (ok, error, timeout)',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'notes_mcp_errors_total',
      help: 'Requests refused or failed, by error code',
      labelNames: ['code'],
      registers,
    });
    this.embedSeconds = new Histogram({
      name: 'notes_mcp_embed_seconds',
      help: 'Time spent in the embedding model per call',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    new Gauge({
      name: 'notes_mcp_index_notes',
      help: 'Notes in the index',
      registers,
      collect() {
        this.set(source.notes());
      },
    });
    new Gauge({
      name: 'notes_mcp_index_chunks',
      help: 'Chunks (passages) in the index',
      registers,
      collect() {
        this.set(source.chunks());
      },
    });
    new Gauge({
      name: 'notes_mcp_index_lag_seconds',
      help: 'Age of the oldest change not yet indexed (0 when current)',
      registers,
      collect() {
        this.set(source.lagSeconds());
      },
    });
    new Gauge({
      name: 'notes_mcp_sessions',
      help: 'Open 2025-era sessions (the 2026-07-28 lane is stateless)',
      registers,
      collect() {
        this.set(source.sessions());
      },
    });
  }
}
