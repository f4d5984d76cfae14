import type { Screen } from '../engine/types.js';
import type { VoiceRenderOptions, VoiceReply } from './voice-render.js';

/**
 * The replies both voice adapters give calls that get no turn of the flow (a call Kiunga did not place, an
 * abuse limit, an error): a closing text said in the default language. What a call may do is decided in
 * src/voice/calls.ts.
 */

/** A closing reply said in `lang`: the text of `key` (with `vars`), then the end. */
export function closingReply(render: VoiceRenderOptions, lang: string, key: string, vars: Record<string, string> = {}): VoiceReply {
  const text = render.translator.t(lang, key, vars);
  const screen: Screen = {
    stateId: '',
    final: true,
    text,
    list: [],
    options: [],
    parts: { vars, prompt: { key }, list: [], options: [] },
  };
  return { end: true, text, lang, screen, closing: true };
}
