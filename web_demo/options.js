// Options, events and texts of the autocomplete widget: one frozen, validated settings object.

import { toWebSocketUrl } from "./connection.js";

/** The widget's version (package.json's; the build step checks they agree). */
export const VERSION = "0.2.0";

/** Every CustomEvent the widget dispatches on its input; `detail` fields in comments. */
export const EVENTS = Object.freeze({
  status: "autocomplete:status", // {state, session, index, protocol, limits, auth, authError, retryInMs?}
  results: "autocomplete:results", // {prefix, items, tookMs}
  select: "autocomplete:select", // {text, item, index, via} cancelable: keeps the value as typed
  submit: "autocomplete:submit", // {query, id, queued, via}
  ack: "autocomplete:ack", // {query, id, stored} (or {request, ...} for forget)
  forget: "autocomplete:forget", // {query}
  error: "autocomplete:error", // {code, message, id, latest, request}
  frame: "autocomplete:frame", // {frame}: a message type this version does not know
});

/** Texts the widget shows or announces; replace any of them via the `messages` option. */
export const MESSAGES = Object.freeze({
  count: (n) => (n === 1 ? "1 suggestion" : `${n} suggestions`),
  none: "no suggestions",
  offline: "Suggestions offline, retrying…",
  listLabel: "Suggestions",
  history: "from your history",
  fresh: "trending",
  corrected: "did you mean",
  remove: "Remove from history",
  removed: (q) => `removed ${q} from history`,
});

/**
 * Options, with defaults. Unknown names throw, so a typo is not silently ignored.
 * url: WebSocket endpoint (ws:, wss:, http:, https: or relative to the page); default: the
 *   /ws of the server this module was loaded from.
 * k: suggestions to ask for and show (1..50). minChars: typed characters before asking
 *   (0 asks on focus too). debounceMs: wait after a keystroke (0: every keystroke asks; only
 *   the newest reply is shown).
 * session: a server-issued session id to resume (default: remembered in sessionStorage when
 *   rememberSession, else the server's). token: who the user is, for personal history: a JWT
 *   your site issued for the logged-in user, or a function returning one (or a promise of
 *   one), called before every (re)connect; null: anonymous.
 * submitOnPick: picking with the pointer also submits the input's form.
 * styles: load autocomplete.css from next to this module. notice: show the offline notice
 *   under the input (true), not at all (false), or write it into the given element.
 * messages: partial override of MESSAGES. backoff: {baseMs, maxMs, factor} for reconnects.
 * connectTimeoutMs: give up a connection attempt after this. WebSocketImpl: for tests.
 * renderItem(item, parts, context): what to show inside an option instead of the default
 *   highlighted text: a Node, a string (shown as text, never parsed as markup), or
 *   null/undefined for the default. `parts` are the text's runs [{text, kind, typed}] with
 *   kind "typed", "fix" (what a spelling correction changed) or "completion"; `context` is
 *   {index, selected, typed, messages}. The option element, its classes and its accessible
 *   notes stay the widget's.
 */
export const DEFAULTS = Object.freeze({
  url: null,
  k: 10,
  minChars: 1,
  debounceMs: 0,
  session: null,
  token: null,
  rememberSession: true,
  submitOnPick: true,
  styles: true,
  notice: true,
  messages: {},
  backoff: {},
  connectTimeoutMs: 5000,
  renderItem: null,
  WebSocketImpl: null,
});

/** The protocol's largest k (a server serves at most its own `limits.max_k` of them). */
export const MAX_K = 50;
/** The server's default limits on a prefix and a submitted query (normalised characters),
 * used until its `hello` announces its own. */
export const MAX_PREFIX_CHARS = 200;
export const MAX_QUERY_CHARS = 500;

/** `options` checked and completed with DEFAULTS; throws on unknown names or bad values. */
export function normalizeOptions(options) {
  const unknown = Object.keys(options).filter((key) => !(key in DEFAULTS));
  if (unknown.length) throw new TypeError(`attachAutocomplete: unknown option(s) ${unknown.join(", ")}`);
  const o = { ...DEFAULTS, ...options };
  o.k = Math.trunc(Number(o.k));
  if (!(o.k >= 1 && o.k <= MAX_K)) throw new RangeError(`attachAutocomplete: k must be 1..${MAX_K}, got ${options.k}`);
  o.minChars = Math.max(0, Math.trunc(Number(o.minChars) || 0));
  o.debounceMs = Math.max(0, Number(o.debounceMs) || 0);
  o.messages = { ...MESSAGES, ...o.messages };
  if (o.renderItem !== null && typeof o.renderItem !== "function") {
    throw new TypeError("attachAutocomplete: renderItem must be a function or null");
  }
  o.url = toWebSocketUrl(o.url || new URL("../ws", import.meta.url), globalThis.location?.href).href;
  return Object.freeze(o);
}
