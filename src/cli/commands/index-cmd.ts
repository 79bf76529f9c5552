import type { Command } from 'commander';

export function registerIndex(program: Command): void {
  void program;
}
