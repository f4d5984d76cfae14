import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { TurnRunner } from '../engine/turn-runner.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { Translator } from '../text/i18n.js';
import type { JobQueue } from '../jobs/queue.js';
import type { CallbackService } from '../callback/callbacks.js';
import type { VoiceDeps } from '../voice/calls.js';
import type { ChallengeService } from '../security/challenge.js';
import { flowFor, type FlowCatalogue } from './flow-routing.js';
import type { ChannelAdapter } from './adapter.js';
import type { ChannelDeps } from './channel-deps.js';
import { NO_AUDIO, type AudioCatalogue } from './voice-audio.js';
import { africastalkingUssd } from './africastalking-ussd.js';
import { africastalkingSms } from './africastalking-sms.js';
import { twilioSms } from './twilio-sms.js';
import { twilioVoice } from './twilio-voice.js';
import { africastalkingVoice } from './africastalking-voice.js';
import { MAINTENANCE_KEY } from './adapter.js';

/**
 * Every channel adapter Kiunga serves, in one explicit list. Each is served by the one request wrapper
 * (adapter.ts). Which flow answers a channel is not decided here: the flow files say (flow-routing.ts).
 */

export interface ChannelSetup {
  config: Config;
  logger: Logger;
  runner: TurnRunner;
  flows: FlowCatalogue;
  store: KeyValueStore;
  keys: Keys;
  translator: Translator;
  /** With it, AT SMS replies are queued for the messenger (no queue: no AT SMS route). */
  queue?: JobQueue;
  /** With it, the voice routes are served (call-backs). */
  callbacks?: CallbackService;
  /** One-time codes: a call-back asked from the code prompt reads the open payment code out (threat T31). */
  challenges?: Pick<ChallengeService, 'readOut'>;
  voiceAudio?: AudioCatalogue;
}

export function channelAdapters(setup: ChannelSetup): ChannelAdapter[] {
  const { config, translator } = setup;
  // What every adapter shares: the runner, the store, the secret that keys hashes, the hop budget.
  const channel: ChannelDeps = {
    runner: setup.runner,
    // Which flow answers which channel and service code: the flow files say (channels:, serviceCodes:).
    flowFor: (c, code) => flowFor(setup.flows, c, code),
    store: setup.store,
    keys: setup.keys,
    logger: setup.logger,
    secret: config.pin.pepper,
    hopDeadlineMs: config.hopDeadlineMs,
    defaultCountry: config.defaultCountry,
    busyText: () => translator.t(config.defaultLanguage, 'error.busy'),
    maintenanceText: () => translator.t(config.defaultLanguage, MAINTENANCE_KEY),
  };
  const sms = { ...channel, maxPerHour: config.sms.maxPerHour };
  const adapters: ChannelAdapter[] = [
    africastalkingUssd({ ...channel, politeEnd: () => translator.t(config.defaultLanguage, 'error.generic') }),
    ...(setup.queue ? [africastalkingSms({ ...sms, queue: setup.queue, serviceKeyword: config.africastalking.smsKeyword })] : []),
    twilioSms(sms),
  ];
  if (setup.callbacks) {
    // Call-back IVR: the flow whose channels list voice, answered as TwiML or AT voice XML.
    const voiceDeps: VoiceDeps = { ...channel, callbacks: setup.callbacks, codes: setup.challenges };
    const voice = {
      voiceDeps,
      defaultCountry: config.defaultCountry,
      defaultLanguage: config.defaultLanguage,
      publicUrl: config.publicUrl,
      timeoutS: config.voice.inputTimeoutS,
    };
    const audio = setup.voiceAudio ?? NO_AUDIO;
    const twilioVoices = config.voice.twilioVoices;
    adapters.push(
      twilioVoice({ ...voice, voices: twilioVoices, render: { translator, audio, speaks: (lang) => lang in twilioVoices } }),
      africastalkingVoice({
        ...voice,
        callbackKey: config.africastalking.callbackKey,
        voice: config.voice.atVoice,
        // AT's text-to-speech speaks English only.
        render: { translator, audio, speaks: (lang) => lang === 'en' },
      }),
    );
  }
  return adapters;
}
