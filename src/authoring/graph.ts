import type { CliIo } from './cli.js';
export async function graphCommand(_args: string[], _io: CliIo): Promise<number> { return 2; }
