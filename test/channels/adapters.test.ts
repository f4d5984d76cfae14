import { runTables } from './harness.js';
import { atUssdCases } from './at-ussd.cases.js';
import { atSmsCases, twilioSmsCases } from './sms.cases.js';
import { atVoiceCases, twilioVoiceCases } from './voice.cases.js';

/** Every channel adapter's case table (harness.ts): one server per table, a secrets check after each case. */
runTables([atUssdCases, atSmsCases, twilioSmsCases, atVoiceCases, twilioVoiceCases]);
