// The WebSocket side of the autocomplete widget: one connection to the server's /ws, kept open
// with jittered exponential backoff, speaking the JSON protocol of DESIGN.md. No DOM here
// beyond EventTarget, so a host can use it without the widget:
//
//   const conn = new QacConnection("wss://qac.example.com/ws", { k: 10 });
//   conn.addEventListener("completions", (e) => console.log(e.detail.items));
//   conn.start();
//   conn.complete("new yo");
//
// Events (all CustomEvent, details below): "status", "completions", "ack", "error", "frame".

/** Connection states; `status` events carry one of these in `detail.state`. */
export const State = Object.freeze({
  CONNECTING: "connecting", // first attempt, nothing heard yet
  OPEN: "open", // socket open (detail.session is set once the server's hello arrives)
  OFFLINE: "offline", // lost or never reached; retrying with backoff
  CLOSED: "closed", // close() was called; nothing more happens
});

/** Submits kept while offline and sent on reconnect, so the session context survives. */
const MAX_QUEUED_SUBMITS = 5;

/**
 * Exponential backoff with "equal jitter": the n-th delay is uniform in [cap/2, cap] where
 * cap = min(maxMs, baseMs * factor**n), so a fleet of clients that lost one server does not
 * come back in lockstep, yet no client retries in a tight loop.
 */
export class Backoff {
  constructor({ baseMs = 250, maxMs = 8000, factor = 2, random = Math.random } = {}) {
    if (!(baseMs > 0 && maxMs >= baseMs && factor >= 1)) {
      throw new RangeError(`backoff wants 0 < baseMs <= maxMs and factor >= 1, got ${baseMs}/${maxMs}/${factor}`);
    }
    Object.assign(this, { baseMs, maxMs, factor, random, attempt: 0 });
  }

  next() {
    const cap = Math.min(this.maxMs, this.baseMs * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  reset() {
    this.attempt = 0;
  }
}

/** Close code of a socket the server closed for being idle; reconnect on the next use. */
export const CLOSE_IDLE = 4408;
/** The `session` value that asks the server for a fresh session. */
const NEW_SESSION = "new";

/** `url` (ws:, wss:, http:, https: or relative to `base`) as a ws:/wss: URL object. */
export function toWebSocketUrl(url, base) {
  const u = new URL(url, base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`autocomplete url must be ws:, wss:, http: or https:, got ${u.protocol}`);
  }
  return u;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `hello.limits` when it has the three positive integers the protocol promises, else null. */
function readLimits(raw) {
  if (!isObject(raw)) return null;
  const names = ["max_k", "max_prefix_chars", "max_query_chars"];
  if (!names.every((n) => Number.isInteger(raw[n]) && raw[n] > 0)) return null;
  return Object.freeze(Object.fromEntries(names.map((n) => [n, raw[n]])));
}

/**
 * One logical connection. `complete()` answers only the newest request: replies to older
 * request ids are dropped (counted in `stats.staleDropped`). `submit()` works offline too: the
 * query is queued and sent once the socket is back.
 *
 * Options: session (a server-issued id to resume; default: the server's cookie or a new one),
 * token (who the user is: a JWT the embedding site issued, or a function returning one or a
 * promise of one, called before every connect so an expired token is replaced; without it the
 * connection is anonymous), backoff (Backoff options), connectTimeoutMs (5000),
 * WebSocketImpl (default: WebSocket).
 *
 * A socket the server closed for idleness (4408) is not reopened until the next request.
 */
export class QacConnection extends EventTarget {
  #url;
  #ws = null;
  #state = State.CONNECTING;
  #session;
  #freshSession = false;
  #token;
  #idle = false;
  #pendingComplete = null;
  #retriedAuth = false;
  #index = null;
  #protocol = null;
  #limits = null;
  #nextId = 1;
  #latestComplete = 0;
  #pendingSubmits = new Map(); // id -> query, sent and not yet acked
  #queuedSubmits = []; // queries submitted while offline
  #pendingOther = new Map(); // id -> request description (forget, ...)
  #backoff;
  #retryTimer = null;
  #connectTimer = null;
  #connectTimeoutMs;
  #WebSocketImpl;
  #attempts = 0;
  #onOnline = () => this.#state === State.OFFLINE && this.reconnectNow();

  stats = { staleDropped: 0, reconnects: 0, framesIn: 0, framesOut: 0 };

  constructor(url, { session = null, token = null, backoff = {}, connectTimeoutMs = 5000, WebSocketImpl = null } = {}) {
    super();
    this.#url = toWebSocketUrl(url, globalThis.location?.href);
    this.#session = session || null;
    if (token !== null && typeof token !== "string" && typeof token !== "function") {
      throw new TypeError("token must be a string, a function returning one, or null");
    }
    this.#token = token;
    this.#backoff = backoff instanceof Backoff ? backoff : new Backoff(backoff);
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#WebSocketImpl = WebSocketImpl || globalThis.WebSocket;
  }

  get state() {
    return this.#state;
  }
  get session() {
    return this.#session;
  }
  get index() {
    return this.#index;
  }
  /** The protocol version the server announced in `hello` (null before, or from a server
   * older than version 1). */
  get protocol() {
    return this.#protocol;
  }
  /** The server's limits from `hello`: {max_k, max_prefix_chars, max_query_chars}, or null. */
  get limits() {
    return this.#limits;
  }
  /** The socket URL without the credential (safe to log). */
  get url() {
    return this.#socketUrl(null).href;
  }

  start() {
    if (this.#state === State.CLOSED) throw new Error("connection was closed; make a new one");
    globalThis.addEventListener?.("online", this.#onOnline);
    if (!this.#ws) this.#connect();
    return this;
  }

  /** Ask for completions of `prefix`; returns the request id, or null when offline (an
   * idle-closed socket is reopened and the newest request sent once it is open). */
  complete(prefix, k = 10) {
    const id = this.#nextId++;
    this.#latestComplete = id;
    // A server older than protocol 1 refuses k over its limit; newer ones serve the limit.
    const frame = { type: "complete", id, prefix, k: this.#limits ? Math.min(k, this.#limits.max_k) : k };
    if (this.#send(frame)) return id;
    this.#pendingComplete = frame;
    if (this.#idle) this.reconnectNow();
    return null;
  }

  /** Make every outstanding completion reply stale (e.g. the input was cleared). */
  cancel() {
    this.#latestComplete = this.#nextId++;
    this.#pendingComplete = null;
  }

  /** Record `query` as the session's latest query; queued while offline. Returns the id. */
  submit(query) {
    const id = this.#nextId++;
    if (!this.#send({ type: "submit", id, query })) {
      this.#queuedSubmits.push(query);
      this.#queuedSubmits.splice(0, this.#queuedSubmits.length - MAX_QUEUED_SUBMITS);
      if (this.#idle) this.reconnectNow();
      return { id, queued: true };
    }
    this.#pendingSubmits.set(id, query);
    return { id, queued: false };
  }

  /** Remove personal history: forget({query}) or forget({all: true}). Returns the id or null. */
  forget({ query = null, all = false } = {}) {
    const id = this.#nextId++;
    const frame = all ? { type: "forget", id, all: true } : { type: "forget", id, query };
    if (!all && typeof query !== "string") throw new TypeError("forget wants {query: string} or {all: true}");
    if (!this.#send(frame)) return null;
    this.#pendingOther.set(id, frame);
    return id;
  }

  /** Drop the current session and reconnect; the server issues a new id (in `hello`). */
  newSession() {
    this.#session = null;
    this.#freshSession = true;
    this.#index = null;
    this.#queuedSubmits = [];
    this.#pendingSubmits.clear();
    this.reconnectNow();
  }

  /** Reconnect at once (skipping any backoff wait). */
  reconnectNow() {
    if (this.#state === State.CLOSED) return;
    this.#teardown();
    this.#backoff.reset();
    this.#connect();
  }

  close() {
    globalThis.removeEventListener?.("online", this.#onOnline);
    this.#teardown();
    this.#setState(State.CLOSED);
  }

  #socketUrl(token) {
    const u = new URL(this.#url);
    if (this.#freshSession) u.searchParams.set("session", NEW_SESSION);
    else if (this.#session) u.searchParams.set("session", this.#session);
    if (token) u.searchParams.set("token", token);
    return u;
  }

  async #resolveToken() {
    if (typeof this.#token !== "function") return this.#token;
    try {
      const token = await this.#token();
      return typeof token === "string" && token ? token : null;
    } catch {
      return null; // no credential this time: the connection is anonymous
    }
  }

  #connect() {
    this.#idle = false;
    const attempt = ++this.#attempts;
    if (typeof this.#token === "function") {
      this.#resolveToken().then((token) => {
        if (attempt === this.#attempts && this.#state !== State.CLOSED && !this.#ws) this.#open(token);
      });
    } else {
      this.#open(this.#token);
    }
  }

  #open(token) {
    let ws;
    try {
      ws = new this.#WebSocketImpl(this.#socketUrl(token).href);
    } catch (err) {
      // A malformed URL or a blocked scheme: nothing to retry into, but stay usable offline.
      this.#setState(State.OFFLINE, { reason: String(err) });
      return;
    }
    this.#ws = ws;
    this.#connectTimer = setTimeout(() => ws.close(), this.#connectTimeoutMs);
    ws.onopen = () => {
      clearTimeout(this.#connectTimer);
      this.#setState(State.OPEN);
      this.#flushQueue();
    };
    ws.onmessage = (ev) => this.#onFrame(ev.data);
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return; // an old socket we already replaced
      this.#ws = null;
      clearTimeout(this.#connectTimer);
      // Unacked submits may not have reached the store; send them again after reconnecting.
      this.#queuedSubmits.unshift(...this.#pendingSubmits.values());
      this.#queuedSubmits.splice(0, this.#queuedSubmits.length - MAX_QUEUED_SUBMITS);
      this.#pendingSubmits.clear();
      this.#pendingOther.clear();
      this.cancel();
      if (ev.code === CLOSE_IDLE && !this.#queuedSubmits.length) {
        this.#idle = true; // reopened by the next complete() or submit(), not by a timer
        this.#setState(State.OFFLINE, { code: ev.code, idle: true });
        return;
      }
      const delay = this.#backoff.next();
      this.stats.reconnects += 1;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#connect();
      }, delay);
      this.#setState(State.OFFLINE, { code: ev.code, retryInMs: delay });
    };
    ws.onerror = () => {}; // onclose follows and does the work
  }

  #teardown() {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    this.#retryTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    this.#pendingOther.clear();
  }

  #send(frame) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      return false;
    }
    this.stats.framesOut += 1;
    return true;
  }

  #flushQueue() {
    const queued = this.#queuedSubmits;
    this.#queuedSubmits = [];
    for (const query of queued) this.submit(query);
    const pending = this.#pendingComplete;
    this.#pendingComplete = null;
    if (pending && pending.id === this.#latestComplete) this.#send(pending);
  }

  #setState(state, extra = {}) {
    this.#state = state;
    if (state === State.OPEN) this.#backoff.reset();
    this.#emit("status", { state, session: this.#session, index: this.#index, ...extra });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #onFrame(data) {
    this.stats.framesIn += 1;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not ours to interpret; the protocol is JSON text frames
    }
    if (!isObject(frame)) return;
    switch (frame.type) {
      case "hello":
        if (typeof frame.session === "string" && frame.session) this.#session = frame.session;
        this.#freshSession = false;
        this.#index = typeof frame.index === "string" ? frame.index : null;
        this.#protocol = Number.isInteger(frame.protocol) ? frame.protocol : null;
        this.#limits = readLimits(frame.limits);
        this.#setState(State.OPEN, {
          hello: frame, auth: frame.auth, authError: frame.auth_error ?? null,
          protocol: this.#protocol, limits: this.#limits,
        });
        // An expired credential: get a new one from the token function and reconnect, once.
        if (frame.auth_error === "expired" && typeof this.#token === "function" && !this.#retriedAuth) {
          this.#retriedAuth = true;
          this.reconnectNow();
        } else if (frame.auth === "user") {
          this.#retriedAuth = false;
        }
        break;
      case "completions":
        if (frame.id !== this.#latestComplete) {
          this.stats.staleDropped += 1;
          return;
        }
        this.#emit("completions", {
          id: frame.id,
          prefix: typeof frame.prefix === "string" ? frame.prefix : "",
          items: Array.isArray(frame.items) ? frame.items.filter((it) => isObject(it) && typeof it.text === "string") : [],
          tookMs: typeof frame.took_ms === "number" ? frame.took_ms : null,
          frame,
        });
        break;
      case "ack": {
        const query = this.#pendingSubmits.get(frame.id);
        const other = this.#pendingOther.get(frame.id);
        this.#pendingSubmits.delete(frame.id);
        this.#pendingOther.delete(frame.id);
        if (query !== undefined) this.#emit("ack", { id: frame.id, query, stored: frame.stored !== false, frame });
        else if (other) this.#emit("ack", { id: frame.id, request: other, stored: frame.stored !== false, frame });
        break;
      }
      case "error": {
        const query = this.#pendingSubmits.get(frame.id);
        this.#pendingSubmits.delete(frame.id);
        const request = query !== undefined ? { type: "submit", query } : this.#pendingOther.get(frame.id) || null;
        this.#pendingOther.delete(frame.id);
        this.#emit("error", {
          id: frame.id ?? null,
          code: typeof frame.code === "string" ? frame.code : "unknown",
          message: typeof frame.message === "string" ? frame.message : "",
          latest: frame.id === this.#latestComplete,
          request,
          frame,
        });
        break;
      }
      default:
        this.#emit("frame", { frame }); // a newer server's message type: the host may care
    }
  }
}
