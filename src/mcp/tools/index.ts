import type { McpServer } from '@modelcontextprotocol/server';
import { NotesError } from '../../errors.ts';
import { canWrite, errorResult, type McpDeps, type McpInstanceContext, runTool } from '../context.ts';
import type { ToolDef } from './define.ts';
import { listNotes } from './list-notes.ts';
import { readNoteTool } from './read-note.ts';
import { reindex } from './reindex.ts';
import { searchNotes } from './search-notes.ts';
import { writeNoteTool } from './write-note.ts';
import { editNoteTool } from './edit-note.ts';
import { moveNoteTool } from './move-note.ts';
import { deleteNoteTool } from './delete-note.ts';
import { restoreNoteTool } from './restore-note.ts';
import { noteHistoryTool } from './note-history.ts';
import { relatedNotesTool } from './related-notes.ts';

// Tool names, fields and semantics are a versioned contract (README "Changelog"): adding an
// optional field is safe; removing or renaming one is a breaking change.

/** Every tool, in the order tools/list shows them. A new tool is a file plus a line here. */
export const TOOLS: readonly ToolDef[] = [
  searchNotes,
  readNoteTool,
  writeNoteTool,
  listNotes,
  reindex,
  editNoteTool,
  moveNoteTool,
  deleteNoteTool,
  restoreNoteTool,
  noteHistoryTool,
  relatedNotesTool,
];

/** Whether a tool changes notes or the index, from its own declaration. */
export function needsWrite(def: Pick<ToolDef, 'annotations'>): boolean {
  return !def.annotations.readOnlyHint;
}

/** Names of the tools a caller with these scopes may call (undefined scopes: everything). */
export function toolNamesFor(scopes: readonly string[] | undefined): ReadonlySet<string> {
  const writer = canWrite({ era: 'legacy', scopes });
  return new Set(TOOLS.filter((t) => writer || !needsWrite(t)).map((t) => t.name));
}

export function registerTools(server: McpServer, deps: McpDeps, ctx: McpInstanceContext): void {
  const writer = canWrite(ctx);
  for (const def of TOOLS) {
    server.registerTool(
      def.name,
      {
        title: def.title,
        description: def.description,
        inputSchema: def.input,
        outputSchema: def.output,
        annotations: { title: def.title, ...def.annotations },
      },
      (args, extra) =>
        runTool(
          deps,
          ctx,
          def.name,
          async (control) => {
            // Hidden from a read-only caller's tools/list; called anyway, it is a result the
            // model can read and relay, not a transport error.
            if (needsWrite(def) && !writer) {
              const e = new NotesError('NOTES_E_AUTH_SCOPE', ['read', def.name]);
              return errorResult(`${e.message}: ${def.name} needs a token with scope "write" (ask the user for one).`);
            }
            return def.run(args as never, { deps, ctx, extra, ...control });
          },
          extra.mcpReq.signal,
        ),
    );
  }
}
