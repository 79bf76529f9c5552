export {
  type ChangeInput,
  ChangeRecorder,
  History,
  type HistoryEntry,
  type HistoryOptions,
  type HistoryTool,
  type PruneSummary,
  pageEntries,
  type Who,
} from './history.ts';
export { type RestoreRequest, type RestoreResult, restoreNote } from './restore.ts';
export { finishInterruptedMoves } from './recover.ts';
export { applyTextEdits, type LinkRewrite, type MovePlan, MovePlans, type TextEdit } from './move-plan.ts';
