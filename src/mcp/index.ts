export { MAX_UNREAD_REPLY_BYTES, type McpDeps, type McpInstanceContext, type ToolTextResult } from './context.ts';
export { connectionSink, NotificationHub, type NotificationSink } from './notify.ts';
export { NOTE_URI_TEMPLATE } from './resources.ts';
export { createMcpServer } from './server.ts';
export { TOOLS } from './tools/index.ts';
