import { toGsm } from '../text/gsm.js';
import type { Translator } from '../text/i18n.js';
import type { FailureCode, ReceiptWriter, TransferIntent } from './transfer-types.js';

const REASON_KEYS: Record<FailureCode, string> = {
  insufficient: 'sms.reason.insufficient',
  inactive: 'sms.reason.inactive',
  forbidden: 'sms.reason.forbidden',
  'over-daily': 'sms.reason.overDaily',
  rejected: 'sms.reason.rejected',
  unavailable: 'sms.reason.unavailable',
};

/** SMS receipts in the customer's language, GSM-7 only (so two segments hold them). */
export function translatedReceipts(translator: Translator): ReceiptWriter {
  const amount = (intent: TransferIntent, lang: string) => translator.formatAmount(lang, intent.amountCents / 100, intent.currency);
  return {
    senderDone(intent) {
      const lang = intent.lang;
      return toGsm(translator.t(lang, 'sms.sent', { amount: amount(intent, lang), counterparty: intent.counterparty, ref: intent.ref }));
    },
    recipientDone(intent) {
      const lang = intent.recipientLang ?? translator.fallback;
      return toGsm(translator.t(lang, 'sms.received', { amount: amount(intent, lang), sender: intent.senderLabel ?? '', ref: intent.ref }));
    },
    senderUnconfirmed(intent) {
      const lang = intent.lang;
      return toGsm(
        translator.t(lang, 'sms.unconfirmed', { amount: amount(intent, lang), counterparty: intent.counterparty, ref: intent.ref }),
      );
    },
    senderFailed(intent, code) {
      const lang = intent.lang;
      return toGsm(
        translator.t(lang, 'sms.failed', {
          amount: amount(intent, lang),
          counterparty: intent.counterparty,
          reason: translator.t(lang, REASON_KEYS[code]),
          ref: intent.ref,
        }),
      );
    },
  };
}
