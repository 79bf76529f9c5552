import type { Command } from 'commander';

export function registerModel(program: Command): void {
  void program;
}
