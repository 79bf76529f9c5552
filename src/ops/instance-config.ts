import { describeIssues } from '../errors.ts';
import { ConfigInput } from '../config/index.ts';
import { type Layout, LayoutError } from './layout.ts';

// The instance's config file (NOTES_MCP_CONFIG). The plist points at it and the operator runs
// `notes-mcp --config <file> status` with the same file, so daemon and shell see one truth.
// It holds paths, never a token: the token lives in tokenFile, readable by the service user only.

export function instanceConfigObject(layout: Layout): ConfigInput {
  const config: ConfigInput = {
    notes: layout.notes,
    state: layout.state,
    host: layout.host,
    port: layout.port,
    tokenFile: layout.tokenFile,
    logFile: layout.logFile,
    logLevel: layout.logLevel as ConfigInput['logLevel'],
    allowedHosts: layout.serverName ? [layout.serverName] : [],
    allowedOrigins: [...layout.allowedOrigins],
  };
  if (layout.model) config.model = layout.model;
  // Fail here, not at 3 a.m. in launchd: the daemon parses this file with the same schema.
  const checked = ConfigInput.safeParse(config);
  if (!checked.success) {
    throw new LayoutError(`instance config: ${describeIssues(checked.error)}`);
  }
  return config;
}

export function instanceConfig(layout: Layout): string {
  return `${JSON.stringify(instanceConfigObject(layout), null, 2)}\n`;
}
