/** Prefix of writeNote's temp files: hidden and not Markdown, so no scan or watch sees them. */
export const TEMP_PREFIX = '.notes-mcp-tmp-';

/** True for the temp files writeNote leaves behind only when killed mid-write. */
export function isTempFileName(name: string): boolean {
  return name.slice(name.lastIndexOf('/') + 1).startsWith(TEMP_PREFIX);
}
