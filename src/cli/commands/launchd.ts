import type { Command } from 'commander';

export function registerLaunchd(program: Command): void {
  void program;
}
