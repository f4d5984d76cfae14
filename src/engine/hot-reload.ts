import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { FlowLoadError, formatIssueWithRule } from './flow-loader.js';
import { loadFlowSet, type FlowVersions } from './flow-versions.js';
import type { Implementations } from './registry.js';
import { createTranslator, type Translator } from '../text/i18n.js';
import { readLocaleFiles } from '../text/locale-files.js';

/**
 * Hot reload of flows and locales. When a file in FLOWS_DIR or LOCALES_DIR changes, the locales and every
 * flow are loaded and checked again, as at start-up. If all is well the new versions are installed: new
 * sessions get them, while sessions in flight go on with the version they began with (the runner restores a
 * session by `flowId@version`, and a version covers the flow file and the prompts it was checked against).
 * If anything is broken, the edit is refused, every problem is logged with its file and line, and the last
 * good version keeps serving.
 */

/** A translator whose texts can be replaced as a whole; every call goes to the current one. */
export class SwitchableTranslator implements Translator {
  constructor(private current: Translator) {}

  /** Makes `next` the translator every later call uses. */
  use(next: Translator): void {
    this.current = next;
  }

  get active(): Translator {
    return this.current;
  }

  get languages(): readonly string[] {
    return this.current.languages;
  }

  get fallback(): string {
    return this.current.fallback;
  }

  has(lang: string, key: string): boolean {
    return this.current.has(lang, key);
  }

  keys(lang: string): string[] {
    return this.current.keys(lang);
  }

  template(lang: string, key: string): string | undefined {
    return this.current.template(lang, key);
  }

  t(lang: string, key: string, vars?: Readonly<Record<string, unknown>>): string {
    return this.current.t(lang, key, vars);
  }

  missingKeys(referenceLang?: string) {
    return this.current.missingKeys(referenceLang);
  }

  formatAmount(lang: string, amount: number, currency: string, decimals?: number): string {
    return this.current.formatAmount(lang, amount, currency, decimals);
  }

  formatDate(...args: Parameters<Translator['formatDate']>): string {
    return this.current.formatDate(...args);
  }
}

export interface FlowWatcherOptions {
  flowsDir: string;
  localesDir: string;
  /** DEFAULT_LANGUAGE. */
  fallback: string;
  impl: Implementations;
  flows: FlowVersions;
  /** The translator the server shares; it is switched to the new texts on a good reload. */
  translator: SwitchableTranslator;
  logger: Logger;
  /** Quiet time after the last change before reloading (editors write files in several steps). */
  debounceMs?: number;
}

export type ReloadOutcome = { ok: true; versions: Record<string, string>; changed: string[] } | { ok: false; problems: string[] };

export interface FlowWatcher {
  /** Reloads now (also what a file change triggers); never throws. */
  reload(): Promise<ReloadOutcome>;
  /** Resolves after the reload in progress and any pending one. */
  settled(): Promise<void>;
  close(): void;
}

/** Loads the locales and flows again; installs them only when everything checks. */
export async function reloadFlows(options: FlowWatcherOptions): Promise<ReloadOutcome> {
  const { logger } = options;
  let translator: Translator;
  try {
    translator = await createTranslator({ dir: options.localesDir, fallback: options.fallback });
  } catch (error) {
    // The same files read again for lines: `locales/fr.json:12: syntax error ...`.
    const located = (await readLocaleFiles(options.localesDir).catch(() => [])).flatMap((l) =>
      l.errors.map((e) => `${l.file}${e.line ? `:${e.line}` : ''}: ${e.message}`),
    );
    const problems = located.length > 0 ? located : [(error as Error).message];
    logger.error({ problems }, 'reload refused: a locale file is broken; the last good version keeps serving');
    return { ok: false, problems };
  }
  try {
    const set = await loadFlowSet(options.flowsDir, options.impl, translator);
    const changed = [...set.values()].filter((f) => options.flows.current(f.id)?.version !== f.version).map((f) => f.id);
    options.flows.install(set);
    options.translator.use(translator);
    const versions = Object.fromEntries([...set.values()].map((f) => [f.id, f.version]));
    if (changed.length > 0) logger.info({ versions, changed }, 'flows reloaded: new sessions get the new versions');
    else logger.debug({ versions }, 'flows reloaded: nothing changed');
    return { ok: true, versions, changed };
  } catch (error) {
    const problems = error instanceof FlowLoadError ? error.issues.map(formatIssueWithRule) : [(error as Error).message];
    logger.error({ problems }, 'reload refused: a flow is broken; the last good version keeps serving');
    return { ok: false, problems };
  }
}

/** Watches both directories (fs.watch, debounced) and reloads on every change. */
export function watchFlows(options: FlowWatcherOptions): FlowWatcher {
  const debounceMs = options.debounceMs ?? 250;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let pending = false;
  let closed = false;

  const reload = (): Promise<ReloadOutcome> => {
    const next = running.then(() => reloadFlows(options));
    running = next.catch(() => undefined);
    return next;
  };
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    pending = true;
    timer = setTimeout(() => {
      pending = false;
      void reload();
    }, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([options.flowsDir, options.localesDir])) {
    try {
      const w = watch(dir, { persistent: false }, (_event, file) => {
        // Test files and editor droppings do not change what is served.
        if (file && !/\.(ya?ml|json)$/.test(file.toString())) return;
        if (file && /\.test\.ya?ml$/.test(file.toString())) return;
        schedule();
      });
      w.on('error', (error) => options.logger.warn({ dir, err: { message: error.message } }, 'flow watcher stopped'));
      watchers.push(w);
    } catch (error) {
      options.logger.warn({ dir, err: { message: (error as Error).message } }, 'cannot watch directory; hot reload is off for it');
    }
  }
  options.logger.info(
    { flows: options.flowsDir, locales: options.localesDir },
    'watching flows and locales: edits are loaded without a restart',
  );
  return {
    reload,
    async settled() {
      do {
        while (pending) await new Promise((r) => setTimeout(r, debounceMs));
        await running;
      } while (pending);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
