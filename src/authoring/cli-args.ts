import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * What every authoring command shares: its input and output, the usage error, and argument parsing. Kept apart
 * from `cli.ts` so that the commands it loads on demand (`graph`, `simulate`, `test`) do not import it back.
 */

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Environment the settings are read from (default: the process environment, read by config.ts). */
  env?: Record<string, string | undefined>;
  stdin?: NodeJS.ReadableStream;
}

export const processIo: CliIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};

export class UsageError extends Error {}

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export const int = (value: string | undefined, name: string, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
};
