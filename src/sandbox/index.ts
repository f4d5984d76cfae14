/** The built-in Fineract 1.x sandbox: `startSandbox()` plus the demo data tests refer to. */
export { startSandbox, API_PREFIX, type Sandbox, type SandboxOptions } from './server.js';
export {
  SandboxControl,
  type FailMode,
  type SandboxRequest,
  type SandboxControlState,
  type SandboxVersion,
  type TimeoutAfterCommit,
} from './control.js';
export { Bank } from './bank.js';
export { DEMO, DEMO_CLIENTS, DEMO_SAVINGS, DEMO_LOANS, DEMO_PRODUCTS, DEMO_UNKNOWN_MSISDN, createDemoData } from './demo-data.js';
