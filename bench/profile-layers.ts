/**
 * Where each server's CPU goes, by layer, side by side: reads the CPU profiles of a run with
 * `BENCH_KIUNGA_PROFILE=all` (Kiunga's in /tmp/kiunga-prof, the minimal handler's and the peer's in its
 * subfolders minimal/ and peer/) and gives each layer's share of the busy samples from the first hop on. With
 * the CPU per hop a run measured (`--cpu minimal=166,peer=185,kiunga=574`, in µs), it gives µs per hop too.
 *
 *   npx tsx bench/profile-layers.ts [dir] [--cpu name=µs,...]
 *
 * A sample belongs to the layer of the first package or source file found walking up from the function that
 * was running. Node's own HTTP, socket and stream code is counted apart (`node http/net`), named after the
 * layer that called it when one did (a response written by Express, a command written by ioredis). A socket
 * read has no package above it (the event loop calls Node's stream code, which calls the parser): it is
 * `node http/net`, for HTTP requests, Redis replies and Fineract answers alike. So is Node's HTTP parser.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { busySamples, COMPILED_KIUNGA, type Sample } from './cpu-profiles.js';

/** Packages by layer; any other package is its own layer. */
const LAYERS: Record<string, string[]> = {
  'express stack': [
    'express',
    'router',
    'body-parser',
    'raw-body',
    'qs',
    'type-is',
    'content-type',
    'on-finished',
    'parseurl',
    'media-typer',
    'iconv-lite',
    'finalhandler',
    'path-to-regexp',
    'mime-types',
    'proxy-addr',
    'forwarded',
    'debug',
    'ee-first',
    'http-errors',
    'depd',
    'bytes',
    'side-channel',
    'unpipe',
    'statuses',
    'encodeurl',
    'escape-html',
    'etag',
    'merge-descriptors',
  ],
  'redis client': ['ioredis', 'redis-parser', 'denque', 'standard-as-callback', 'cluster-key-slot', 'redis-errors'],
  'undici (Fineract)': ['undici'],
  logging: ['pino', '@pinojs/redact', 'sonic-boom', 'quick-format-unescaped', 'fast-redact'],
  'job queue': ['bullmq', 'msgpackr'],
};
const layerOfPackage = new Map(Object.entries(LAYERS).flatMap(([layer, packages]) => packages.map((p) => [p, layer] as const)));

const args = process.argv.slice(2);
const cpuArg = args.indexOf('--cpu');
const cpu = new Map(
  (cpuArg >= 0 ? (args.splice(cpuArg, 2)[1] ?? '') : '')
    .split(',')
    .filter(Boolean)
    .map((pair) => pair.split('=') as [string, string])
    .map(([name, us]) => [name, Number(us)] as const),
);
const dir = args[0] ?? '/tmp/kiunga-prof';

function layerOf({ frame: leaf, stack }: Sample): string {
  if (leaf.functionName === '(garbage collector)') return 'GC';
  if (leaf.functionName === '(program)') return 'V8 (program)';
  let network = false;
  let crypto = false;
  for (const { url } of stack()) {
    if (!url) continue;
    if (/^node:(_http|net|internal\/streams?\/|internal\/stream_base)/.test(url)) network = true;
    else if (url.startsWith('node:internal/crypto')) crypto = true;
    else if (url.startsWith('node:')) continue;
    else {
      const pkg = url.includes(COMPILED_KIUNGA) ? undefined : /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
      const own = url.includes(COMPILED_KIUNGA) || url.includes('/src/');
      const layer = pkg
        ? (layerOfPackage.get(pkg) ?? pkg)
        : own
          ? 'Kiunga (own code)'
          : url.includes('/bench/')
            ? 'the baseline server'
            : 'other';
      if (network) return `node http/net, from ${layer}`;
      return crypto ? `crypto, from ${layer}` : layer;
    }
  }
  return network ? 'node http/net' : crypto ? 'crypto' : 'node (other)';
}

/** Each layer's count of busy samples from the first hop on, over every profile in `folder`. */
function layers(folder: string): { busy: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let busy = 0;
  for (const sample of busySamples(folder, /turn-runner|minimal-server|peer-server/)) {
    busy++;
    const layer = layerOf(sample);
    counts.set(layer, (counts.get(layer) ?? 0) + 1);
  }
  return { busy, counts };
}

const servers = [
  { name: 'minimal', folder: join(dir, 'minimal') },
  { name: 'peer', folder: join(dir, 'peer') },
  { name: 'kiunga', folder: dir },
].filter((s) => existsSync(s.folder));
const measured = servers.map((s) => ({ ...s, ...layers(s.folder) })).filter((s) => s.busy > 0);
const all = [...new Set(measured.flatMap((s) => [...s.counts.keys()]))];
const share = (s: (typeof measured)[number], layer: string) => (s.counts.get(layer) ?? 0) / s.busy;
all.sort((a, b) => share(measured.at(-1)!, b) - share(measured.at(-1)!, a));
const cell = (s: (typeof measured)[number], layer: string) => {
  const pct = `${(100 * share(s, layer)).toFixed(1)}%`;
  const us = cpu.get(s.name);
  return us ? `${pct} (${Math.round(share(s, layer) * us)} µs)` : pct;
};
const lines = [
  `| layer | ${measured.map((s) => `${s.name} (${s.busy} samples${cpu.get(s.name) ? `, ${cpu.get(s.name)} µs per hop` : ''})`).join(' | ')} |`,
  `|---|${measured.map(() => '---').join('|')}|`,
  ...all.map((layer) => `| ${layer} | ${measured.map((s) => cell(s, layer)).join(' | ')} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
