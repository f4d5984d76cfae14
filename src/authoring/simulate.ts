import type { CliIo } from './cli.js';
export async function simulateCommand(_args: string[], _io: CliIo): Promise<number> { return 2; }
