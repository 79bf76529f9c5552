import type { Command } from 'commander';

export function registerSearch(program: Command): void {
  void program;
}
