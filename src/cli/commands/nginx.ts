import type { Command } from 'commander';

export function registerNginx(program: Command): void {
  void program;
}
