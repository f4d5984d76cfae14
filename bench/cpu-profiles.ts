/**
 * Reads the V8 CPU profiles a benchmark run wrote (Node's `--cpu-prof` files), for bench/profile-summary.ts and
 * bench/profile-layers.ts: the busy samples of every profile in a folder, from the first sample inside a hop on
 * (one whose stack holds a frame whose URL matches `hop`), so that start-up (loading and compiling modules) is
 * left out. Idle samples are left out too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
}

/** One busy sample: the frame that was running, and its stack from that frame up to the root. */
export interface Sample {
  frame: CallFrame;
  stack(): Generator<CallFrame>;
}

/** The compiled server `npm run bench` builds lives under node_modules/.cache but is Kiunga's own code. */
export const COMPILED_KIUNGA = 'node_modules/.cache/kiunga-bench/';

export function* busySamples(folder: string, hop: RegExp): Generator<Sample> {
  for (const name of readdirSync(folder).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(folder, name), 'utf8')) as Profile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
    const stack = function* (id: number): Generator<CallFrame> {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) yield frames.get(at)!;
    };
    const first = profile.samples.findIndex((id) => [...stack(id)].some((f) => hop.test(f.url)));
    if (first < 0) continue;
    for (const id of profile.samples.slice(first)) {
      const frame = frames.get(id)!;
      if (frame.functionName !== '(idle)') yield { frame, stack: () => stack(id) };
    }
  }
}
