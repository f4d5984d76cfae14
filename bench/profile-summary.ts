/**
 * Summarises the CPU profiles a benchmark run wrote (`BENCH_KIUNGA_PROFILE=1`: Node's `--cpu-prof` files in
 * /tmp/kiunga-prof) as self time by package, by file and by function, counting only the samples from the first
 * hop on (a sample whose stack holds the turn runner), so that start-up (loading and compiling modules) is left
 * out. Idle samples are not counted; shares are of the busy samples.
 *
 *   npx tsx bench/profile-summary.ts [dir] [count]
 */
import { busySamples, COMPILED_KIUNGA, type CallFrame } from './cpu-profiles.js';

const dir = process.argv[2] ?? '/tmp/kiunga-prof';
const count = Number(process.argv[3] ?? 25);

/** Where a frame belongs: GC, a package under node_modules, a Kiunga source file, Node's own JavaScript or native code. */
function groupOf(frame: CallFrame): { pkg: string; file: string } {
  if (frame.functionName === '(garbage collector)') return { pkg: 'GC', file: 'GC' };
  if (frame.functionName === '(program)') return { pkg: 'program', file: 'program' };
  if (!frame.url) return { pkg: 'native', file: 'native' };
  const compiled = frame.url.includes(COMPILED_KIUNGA) ? /kiunga-bench\/(.+)\.js$/.exec(frame.url)?.[1] : undefined;
  if (compiled) return { pkg: 'kiunga (own files)', file: `kiunga:${compiled}.ts` };
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
  if (pkg) return { pkg, file: pkg };
  const own = /\/src\/(.+)$/.exec(frame.url)?.[1];
  if (own) return { pkg: 'kiunga (own files)', file: `kiunga:${own}` };
  if (frame.url.startsWith('node:')) return { pkg: 'node core (js)', file: frame.url };
  return { pkg: frame.url, file: frame.url };
}

const byPackage = new Map<string, number>();
const byFile = new Map<string, number>();
const byFunction = new Map<string, number>();
let busy = 0;
const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

for (const { frame } of busySamples(dir, /turn-runner/)) {
  busy++;
  const { pkg, file } = groupOf(frame);
  add(byPackage, pkg);
  add(byFile, file);
  add(byFunction, `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber}`);
}

const table = (title: string, map: Map<string, number>) => {
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, count);
  return [`| ${title} | self time |`, '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${((100 * v) / busy).toFixed(1)}% |`)].join('\n');
};
process.stdout.write(
  `${busy} busy samples from the first hop on\n\n${table('package', byPackage)}\n\n${table('file', byFile)}\n\n${table('function', byFunction)}\n`,
);
