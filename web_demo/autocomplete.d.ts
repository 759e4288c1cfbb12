// Type declarations for the session-qac widget (autocomplete.js and the bundles in dist/).
// The wire protocol itself is specified in docs/protocol/asyncapi.yaml of the repository.

/** Connection states, as `State` names them and `status` events carry them. */
export type ConnectionState = "connecting" | "open" | "offline" | "closed";

export declare const State: Readonly<{
  CONNECTING: "connecting";
  OPEN: "open";
  OFFLINE: "offline";
  CLOSED: "closed";
}>;

/** Where a suggestion comes from: the index's queries, the user's own history, typed words
 * plus a popular ending, or queries many people submitted lately. */
export type Source = "index" | "history" | "generated" | "fresh";

/** One suggestion as the widget keeps it (server fields it does not know are kept too). */
export interface Item {
  text: string;
  /** Orders the items; null when the server sent none. */
  score: number | null;
  source: Source;
  /** [start, end) of `text`, in code points, that stands for what was typed. */
  match?: [number, number];
  /** The item extends a spelling correction of what was typed. */
  corrected: boolean;
  /** With `corrected`: how many leading characters stand for what was typed. */
  typed?: number;
  [field: string]: unknown;
}

/** What the server serves, from its `hello` (null until then, or from an older server). */
export interface Limits {
  max_k: number;
  max_prefix_chars: number;
  max_query_chars: number;
}

/** A run of an item's text: what was typed, what a correction changed, or the completion. */
export interface Part {
  text: string;
  kind: "typed" | "fix" | "completion";
  /** true for "typed" and "fix" runs. */
  typed: boolean;
}

export interface Messages {
  count: (n: number) => string;
  none: string;
  offline: string;
  listLabel: string;
  history: string;
  fresh: string;
  corrected: string;
  remove: string;
  removed: (query: string) => string;
}

export interface RenderContext {
  index: number;
  selected: boolean;
  /** The text in the box as typed. */
  typed: string;
  messages: Messages;
}

/** Returns what to show inside an option: a Node, a string (shown as text, never parsed as
 * markup), or null/undefined for the default highlighted text. */
export type RenderItem = (
  item: Readonly<Item>,
  parts: readonly Part[],
  context: RenderContext,
) => Node | string | null | undefined;

/** A JWT the embedding site issued for the signed-in user, or a function returning one (or
 * a promise of one), called before every (re)connect. */
export type TokenSource = string | (() => string | null | Promise<string | null>);

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  factor?: number;
  random?: () => number;
}

export interface AutocompleteOptions {
  /** WebSocket endpoint (ws:, wss:, http:, https: or relative to the page); default: the
   * /ws of the server the widget was loaded from. */
  url?: string | URL | null;
  /** Suggestions to ask for and show, 1..50 (the server serves at most its `max_k`). */
  k?: number;
  /** Typed characters before asking; 0 also asks on focus (recent or popular searches). */
  minChars?: number;
  debounceMs?: number;
  session?: string | null;
  token?: TokenSource | null;
  rememberSession?: boolean;
  submitOnPick?: boolean;
  styles?: boolean;
  notice?: boolean | HTMLElement;
  messages?: Partial<Messages>;
  backoff?: BackoffOptions;
  connectTimeoutMs?: number;
  renderItem?: RenderItem | null;
  WebSocketImpl?: typeof WebSocket | null;
}

export interface StatusDetail {
  state: ConnectionState;
  session: string | null;
  index: string | null;
  protocol?: number | null;
  limits?: Limits | null;
  auth?: "user" | "anonymous";
  authError?: "expired" | "invalid" | "unusable_subject" | null;
  hello?: Record<string, unknown>;
  retryInMs?: number;
  code?: number;
  idle?: boolean;
  reason?: string;
}

export interface ResultsDetail {
  prefix: string;
  items: Item[];
  tookMs: number | null;
}

export interface SelectDetail {
  text: string;
  item: Item;
  index: number;
  via: "keyboard" | "tab" | "pointer";
}

export interface SubmitDetail {
  query: string;
  id: number;
  queued: boolean;
  via: string;
}

export interface AckDetail {
  id: number;
  /** For a submit. */
  query?: string;
  /** For another request (a forget). */
  request?: Record<string, unknown>;
  stored: boolean;
  frame: Record<string, unknown>;
}

export interface ForgetDetail {
  query: string;
}

export interface ErrorDetail {
  id: number | string | null;
  code: "bad_request" | "rate_limited" | "unavailable" | "unknown" | string;
  message: string;
  /** The error answers the newest completion request. */
  latest: boolean;
  request: Record<string, unknown> | null;
  frame: Record<string, unknown>;
}

export interface FrameDetail {
  frame: Record<string, unknown>;
}

/** The bubbling CustomEvents the widget dispatches on its input. */
export interface AutocompleteEventMap {
  "autocomplete:status": CustomEvent<StatusDetail>;
  "autocomplete:results": CustomEvent<ResultsDetail>;
  "autocomplete:select": CustomEvent<SelectDetail>;
  "autocomplete:submit": CustomEvent<SubmitDetail>;
  "autocomplete:ack": CustomEvent<AckDetail>;
  "autocomplete:forget": CustomEvent<ForgetDetail>;
  "autocomplete:error": CustomEvent<ErrorDetail>;
  "autocomplete:frame": CustomEvent<FrameDetail>;
}

export declare const EVENTS: Readonly<{
  status: "autocomplete:status";
  results: "autocomplete:results";
  select: "autocomplete:select";
  submit: "autocomplete:submit";
  ack: "autocomplete:ack";
  forget: "autocomplete:forget";
  error: "autocomplete:error";
  frame: "autocomplete:frame";
}>;

export declare const DEFAULTS: Readonly<Required<AutocompleteOptions>>;
export declare const MESSAGES: Readonly<Messages>;
export declare const VERSION: string;

/** The controller `attachAutocomplete` returns (one per input). */
export interface AutocompleteController {
  readonly connection: QacConnection;
  readonly state: ConnectionState;
  readonly session: string | null;
  readonly index: string | null;
  readonly protocol: number | null;
  readonly limits: Limits | null;
  /** Copies of the items shown. */
  readonly items: Item[];
  readonly isOpen: boolean;
  /** Record `query` as submitted; returns the request id, or null when nothing was sent. */
  submit(query: string, via?: string): number | null;
  /** Remove a query (or everything) from the user's history. */
  forget(query: string | { query: string } | { all: true }): number | null;
  newSession(): void;
  destroy(): void;
}

export declare function attachAutocomplete(
  input: HTMLInputElement,
  options?: AutocompleteOptions,
): AutocompleteController;
export declare function getAutocomplete(input: HTMLInputElement): AutocompleteController | undefined;
export declare function autoAttach(root?: ParentNode): AutocompleteController[];
export declare function highlightSegments(
  text: string,
  typed: string,
  match?: [number, number] | null,
): { text: string; typed: boolean }[];
export declare function itemParts(item: Pick<Item, "text" | "match" | "corrected">, typed: string): Part[];
export declare function normalizeTyped(text: string): string;

export declare class Backoff {
  constructor(options?: BackoffOptions);
  attempt: number;
  next(): number;
  reset(): void;
}

export interface ConnectionEventMap {
  status: CustomEvent<StatusDetail>;
  completions: CustomEvent<{
    id: number;
    prefix: string;
    items: Record<string, unknown>[];
    tookMs: number | null;
    frame: Record<string, unknown>;
  }>;
  ack: CustomEvent<AckDetail>;
  error: CustomEvent<ErrorDetail>;
  frame: CustomEvent<FrameDetail>;
}

/** The WebSocket side alone, for hosts that draw their own UI. */
export declare class QacConnection extends EventTarget {
  constructor(
    url: string | URL,
    options?: {
      session?: string | null;
      token?: TokenSource | null;
      backoff?: BackoffOptions | Backoff;
      connectTimeoutMs?: number;
      WebSocketImpl?: typeof WebSocket | null;
    },
  );
  readonly state: ConnectionState;
  readonly session: string | null;
  readonly index: string | null;
  readonly protocol: number | null;
  readonly limits: Limits | null;
  /** The socket URL without the credential. */
  readonly url: string;
  stats: { staleDropped: number; reconnects: number; framesIn: number; framesOut: number };
  start(): this;
  /** Returns the request id, or null when offline. */
  complete(prefix: string, k?: number): number | null;
  cancel(): void;
  submit(query: string): { id: number; queued: boolean };
  forget(request: { query: string } | { all: true }): number | null;
  newSession(): void;
  reconnectNow(): void;
  close(): void;
  addEventListener<K extends keyof ConnectionEventMap>(
    type: K,
    listener: (event: ConnectionEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

declare global {
  interface HTMLElementEventMap extends AutocompleteEventMap {}
  interface Window {
    /** Defined by the classic-script bundle (dist/autocomplete-*.global.min.js). */
    QacAutocomplete?: {
      readonly attachAutocomplete: typeof attachAutocomplete;
      readonly getAutocomplete: typeof getAutocomplete;
      readonly autoAttach: typeof autoAttach;
      readonly highlightSegments: typeof highlightSegments;
      readonly itemParts: typeof itemParts;
      readonly normalizeTyped: typeof normalizeTyped;
      readonly State: typeof State;
      readonly EVENTS: typeof EVENTS;
      readonly DEFAULTS: typeof DEFAULTS;
      readonly MESSAGES: typeof MESSAGES;
      readonly VERSION: typeof VERSION;
      readonly Backoff: typeof Backoff;
      readonly QacConnection: typeof QacConnection;
    };
  }
}
