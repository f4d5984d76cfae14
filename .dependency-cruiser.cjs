/**
 * The import rules of `src/` (docs/architecture.md, "What lives where, and what it may import"), checked by
 * `npm run deps` before the tests run: no import cycle, and each folder imports only the folders below it.
 * test/architecture/dependencies.test.ts shows that a cycle or a layer violation fails the check.
 *
 * Type-only imports count (`tsPreCompilationDeps`): a type couples two folders as much as a value does.
 */

/** Every folder (or top-level file) of src/ and what it may import besides itself, `logger.ts` and `constants.ts`. */
const LAYERS = {
  // Leaves: they never import the domain.
  logger: [],
  constants: [],
  time: [],
  settings: [],
  text: [],
  jobs: [],
  session: [],
  sandbox: [], // a Fineract stand-in, not part of Kiunga: it shares nothing but the logger
  config: ['settings'],
  // The audit trail (hash-chained Redis stream, signed checkpoints) and the kill switches: leaves on the store.
  audit: ['session', 'text'],
  control: ['session'],
  // Issue 11: the approval primitive (holds, k-of-M, expiry) and the agent registry built on it.
  approvals: ['session', 'fineract', 'money', 'jobs', 'text', 'audit', 'control', 'limits', 'security'],
  // Issue 12: sign-up profiles, the product catalogue's checks and loan applications with their lifecycle.
  origination: ['session', 'fineract', 'money', 'jobs', 'text', 'audit', 'control', 'limits', 'security', 'approvals'],
  agents: ['session', 'fineract', 'money', 'jobs', 'text', 'audit', 'control', 'limits', 'security', 'approvals'],
  limits: ['session'],
  fineract: ['session', 'limits', 'text'],
  money: ['session', 'fineract', 'text', 'jobs', 'limits', 'audit', 'control'],
  security: ['session', 'limits', 'text', 'jobs', 'fineract', 'config', 'audit', 'control'],
  messaging: ['session', 'fineract', 'limits', 'jobs', 'text', 'config'],
  engine: ['fineract', 'session', 'text', 'security', 'money', 'limits', 'jobs', 'audit', 'control', 'approvals', 'agents', 'origination'],
  callback: ['session', 'messaging', 'jobs', 'fineract', 'engine', 'text', 'limits'],
  hooks: ['session', 'fineract', 'security', 'text', 'jobs', 'limits', 'audit', 'control'],
  // What both voice providers share: call-back authorisation and state, the silence limit, missed calls.
  voice: ['engine', 'session', 'limits', 'security', 'callback', 'messaging', 'text', 'fineract', 'jobs', 'audit', 'control'],
  // What SMS conversations share whatever the provider (the per-number reply cap).
  sms: ['engine', 'session', 'limits', 'security', 'messaging', 'text', 'jobs', 'audit', 'control', 'origination'],
  channels: [
    'engine',
    'voice',
    'sms',
    'text',
    'security',
    'session',
    'fineract',
    'callback',
    'messaging',
    'money',
    'jobs',
    'limits',
    'config',
    'audit',
    'control',
    'approvals',
    'agents',
    'origination',
  ],
  admin: ['security', 'money', 'session', 'audit', 'control', 'fineract', 'limits', 'approvals', 'agents', 'origination'],
  simulator: ['config', 'sandbox', 'security', 'text'],
  metrics: ['fineract', 'limits', 'session', 'jobs', 'audit', 'control', 'approvals', 'agents', 'origination'],
  // The assembly: app from injected services, services from the config, main the command line.
  app: [
    'admin',
    'callback',
    'channels',
    'voice',
    'sms',
    'config',
    'engine',
    'fineract',
    'hooks',
    'jobs',
    'limits',
    'messaging',
    'metrics',
    'money',
    'security',
    'session',
    'simulator',
    'text',
    'audit',
    'control',
    'approvals',
    'agents',
    'origination',
  ],
  services: [
    'app',
    'admin',
    'callback',
    'channels',
    'voice',
    'sms',
    'config',
    'engine',
    'fineract',
    'hooks',
    'jobs',
    'limits',
    'messaging',
    'metrics',
    'money',
    'sandbox',
    'security',
    'session',
    'simulator',
    'text',
    'audit',
    'control',
    'approvals',
    'agents',
    'origination',
  ],
  // Tools for flow authors run the whole server (kiunga test, simulate).
  authoring: [
    'app',
    'services',
    'config',
    'engine',
    'voice',
    'sms',
    'channels',
    'fineract',
    'jobs',
    'limits',
    'money',
    'sandbox',
    'security',
    'session',
    'text',
    'audit',
    'control',
    'approvals',
    'agents',
    'origination',
  ],
  main: [
    'app',
    'services',
    'authoring',
    'config',
    'settings',
    'engine',
    'sandbox',
    'session',
    'text',
    'audit',
    'control',
    'approvals',
    'agents',
    'origination',
  ],
};

/**
 * Named single-file exceptions, each with its reason. The AT SIM-swap callback is a route living in
 * security/; it verifies its `?key=` like the other AT routes.
 */
const EXCEPTIONS = [{ from: '^src/security/africastalking-sim-swap\\.ts$', to: '^src/channels/africastalking-common\\.ts$' }];

const unit = (name) => `${name}(/|\\.ts$)`;

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing of src/'} (and logger, constants, time)`,
  severity: 'error',
  from: { path: `^src/${unit(layer)}`, pathNot: EXCEPTIONS.map((e) => e.from) },
  to: { path: '^src/', pathNot: `^src/(${[layer, ...allowed, 'logger', 'constants', 'time'].map(unit).join('|')})` },
}));

const exceptionRules = EXCEPTIONS.map((e) => {
  const layer = e.from.match(/^\^src\/([a-z-]+)/)[1];
  return {
    name: `layer-${layer}-exception`,
    severity: 'error',
    from: { path: e.from },
    to: { path: '^src/', pathNot: [`^src/(${[layer, ...LAYERS[layer], 'logger', 'constants', 'time'].map(unit).join('|')})`, e.to] },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle (also one hidden behind import()): move what both sides need into a module of its own.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    ...layerRules,
    ...exceptionRules,
    {
      name: 'layer-unknown',
      comment: 'A folder of src/ that the layer table does not know: give it a row in LAYERS above and in docs/architecture.md.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/(${Object.keys(LAYERS).map(unit).join('|')})` },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'] },
    exclude: { path: '\\.d\\.ts$' },
  },
};
