/**
 * The import check that `npm test` runs first (`npm run deps`: dependency-cruiser with the project's
 * .dependency-cruiser.cjs). Tiny fixture trees, cruised with the project's own rules, show that it fails on an
 * import cycle (also one hidden behind `import()`) and on an import against the layers, and passes a tree
 * that keeps them; the project itself passes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Cruises `src` of `cwd` with the project's rules: the number of errors and the violations. */
async function cruise(cwd: string): Promise<{ errors: number; violations: Violation[] }> {
  const { stdout } = await run(process.execPath, [CLI, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd, maxBuffer: 64 << 20 });
  const { summary } = JSON.parse(stdout) as { summary: { error: number; violations: Violation[] } };
  return { errors: summary.error, violations: summary.violations };
}

/** The exit code of the command `npm run deps` runs (its `err` report), in `cwd`. */
async function exitCode(cwd: string): Promise<number> {
  try {
    await run(process.execPath, [CLI, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd });
    return 0;
  } catch (error) {
    const { code } = error as { code?: number };
    if (typeof code !== 'number') throw error;
    return code;
  }
}

const dirs: string[] = [];
async function fixture(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiunga-deps-'));
  dirs.push(dir);
  const all = {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
      include: ['src'],
    }),
    'src/logger.ts': 'export const log = (s: string): void => void s;\n',
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('dependency check (npm run deps)', () => {
  it('should pass a tree that keeps the layers and has no cycle', async () => {
    const dir = await fixture({
      'src/text/words.ts': "import { log } from '../logger.js';\nexport const word = (): string => { log('w'); return 'w'; };\n",
      'src/engine/runner.ts': "import { word } from '../text/words.js';\nexport const run = (): string => word();\n",
    });
    expect(await cruise(dir)).toEqual({ errors: 0, violations: [] });
    expect(await exitCode(dir)).toBe(0);
  }, 60_000);

  it('should fail on an import cycle, also one hidden behind import()', async () => {
    const dir = await fixture({
      'src/engine/runner.ts': "import { helper } from './helper.js';\nexport const run = (): number => helper();\n",
      'src/engine/helper.ts': "import { run } from './runner.js';\nexport const helper = (): number => (run ? 1 : 0);\n",
      'src/authoring/cli.ts':
        "export const graph = async (): Promise<unknown> => (await import('./graph.js')).draw();\nexport const usage = 'u';\n",
      'src/authoring/graph.ts': "import { usage } from './cli.js';\nexport const draw = (): string => usage;\n",
    });
    const { errors, violations } = await cruise(dir);
    expect(errors).toBeGreaterThan(0);
    expect(await exitCode(dir)).not.toBe(0);
    // Reported once per cycle, from whichever end the cruiser met first.
    const cycles = violations.filter((v) => v.rule.name === 'no-circular').map((v) => [v.from, v.to].sort().join(' <-> '));
    expect(cycles.sort()).toEqual(['src/authoring/cli.ts <-> src/authoring/graph.ts', 'src/engine/helper.ts <-> src/engine/runner.ts']);
  }, 60_000);

  it('should fail on an import against the layers (a leaf importing the domain, an upward import)', async () => {
    const dir = await fixture({
      'src/engine/runner.ts': 'export const run = (): number => 1;\n',
      'src/text/words.ts': "import { run } from '../engine/runner.js';\nexport const word = (): number => run();\n",
      'src/authoring/reload.ts': 'export const reload = (): number => 2;\n',
      'src/services.ts': "import { reload } from './authoring/reload.js';\nexport const build = (): number => reload();\n",
    });
    const { errors, violations } = await cruise(dir);
    expect(errors).toBeGreaterThan(0);
    expect(violations.map((v) => [v.rule.name, v.from, v.to])).toEqual(
      expect.arrayContaining([
        ['layer-text', 'src/text/words.ts', 'src/engine/runner.ts'],
        ['layer-services', 'src/services.ts', 'src/authoring/reload.ts'],
      ]),
    );
  }, 60_000);

  it('should fail on a folder the layer table does not know', async () => {
    const dir = await fixture({
      'src/gadgets/thing.ts': "import { log } from '../logger.js';\nexport const thing = (): void => log('t');\n",
    });
    const { violations } = await cruise(dir);
    expect(violations.map((v) => [v.rule.name, v.from])).toEqual([['layer-unknown', 'src/gadgets/thing.ts']]);
  }, 60_000);

  it('should pass the project itself', async () => {
    const { violations } = await cruise(ROOT);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  }, 60_000);
});
