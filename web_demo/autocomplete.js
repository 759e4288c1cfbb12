// Session-aware query autocompletion for any <input>: plain JavaScript, no dependencies, and
// no build step needed to use it. Drop into a page:
//
//   <input name="q" data-autocomplete>      <!-- or data-autocomplete="wss://host/ws" -->
//   <script type="module" src="https://qac.example.com/static/autocomplete.js"></script>
//
// (or the bundled, minified file of the same, web_demo/dist/, which scripts/build_widget.py
// makes from these modules, also as a classic script defining `QacAutocomplete`)
//
// or attach by hand:  import { attachAutocomplete } from ".../autocomplete.js";
//                      const ac = attachAutocomplete(input, { k: 8 });
//
// The input becomes a WAI-ARIA 1.2 combobox with a listbox popup. Server data is rendered
// with text nodes only. Events (bubbling CustomEvents on the input) are listed in EVENTS.

import { QacConnection, State } from "./connection.js";
import { EVENTS, MAX_PREFIX_CHARS, MAX_QUERY_CHARS, normalizeOptions } from "./options.js";
import { hide, normalizeTyped, renderOption, sanitizeItem } from "./render.js";

export { State };
export { Backoff, QacConnection } from "./connection.js";
export { DEFAULTS, EVENTS, MESSAGES, VERSION } from "./options.js";
export { highlightSegments, itemParts, normalizeTyped } from "./render.js";

const REGISTRY = new WeakMap();
const COMFORTABLE_WIDTH_PX = 360;
const VIEWPORT_MARGIN_PX = 8;
let instances = 0;

function storageKey(url) {
  const u = new URL(url);
  return `qac:session:${u.host}${u.pathname}`;
}

function readStored(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // storage disabled (sandboxed frame, privacy mode)
  }
}

function writeStored(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // storage disabled: the session then lasts as long as the page
  }
}

let stylesLoaded = false;
function loadStyles() {
  if (stylesLoaded || document.querySelector("link[data-qac-styles]")) return;
  stylesLoaded = true;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./autocomplete.css", import.meta.url).href;
  link.dataset.qacStyles = "";
  document.head.append(link);
}

class Autocomplete {
  #input;
  #opts;
  #conn;
  #listbox;
  #live;
  #notice;
  #baseId;
  #items = [];
  #active = -1;
  #typed = "";
  #open = false;
  #debounce = null;
  #announceTimer = null;
  #lastCommit = { query: null, at: 0 };
  #storageKey;
  #saved = {};
  #off = [];

  constructor(input, opts) {
    this.#input = input;
    this.#opts = opts;
    this.#baseId = `qac-${++instances}`;
    this.#storageKey = storageKey(opts.url);
    const session = opts.session || (opts.rememberSession ? readStored(this.#storageKey) : null);
    this.#conn = new QacConnection(opts.url, {
      session, token: opts.token, backoff: opts.backoff,
      connectTimeoutMs: opts.connectTimeoutMs, WebSocketImpl: opts.WebSocketImpl,
    });
    if (opts.styles) loadStyles();
    this.#buildDom();
    this.#wire();
    this.#conn.start();
  }

  get connection() { return this.#conn; }
  get state() { return this.#conn.state; }
  get session() { return this.#conn.session; }
  get index() { return this.#conn.index; }
  get protocol() { return this.#conn.protocol; }
  get limits() { return this.#conn.limits; }
  get items() { return this.#items.map((it) => ({ ...it })); }
  get isOpen() { return this.#open; }

  /** Record `query` as submitted (what Enter or a pick does). */
  submit(query, via = "api") {
    return this.#commit(query, via);
  }

  /** Remove `query` from the user's history, or everything with {all: true}. */
  forget(arg) {
    const req = typeof arg === "string" ? { query: arg } : arg;
    return this.#conn.forget(req);
  }

  /** Start over in a fresh session; the server announces its id (the `session` getter and
   * the next "status" event carry it). */
  newSession() {
    this.#reset();
    if (this.#opts.rememberSession) writeStored(this.#storageKey, null);
    this.#conn.newSession();
  }

  destroy() {
    clearTimeout(this.#debounce);
    clearTimeout(this.#announceTimer);
    for (const off of this.#off) off();
    this.#conn.close();
    this.#listbox.remove();
    this.#live.remove();
    if (this.#notice.dataset.qacOwned === "") this.#notice.remove();
    for (const [name, value] of Object.entries(this.#saved)) {
      if (value === null) this.#input.removeAttribute(name);
      else this.#input.setAttribute(name, value);
    }
    REGISTRY.delete(this.#input);
  }

  #buildDom() {
    const input = this.#input;
    const m = this.#opts.messages;
    const listbox = document.createElement("ul");
    listbox.id = `${this.#baseId}-listbox`;
    listbox.className = "qac-listbox";
    listbox.setAttribute("role", "listbox");
    listbox.setAttribute("aria-label", m.listLabel);
    listbox.hidden = true;
    listbox.style.position = "absolute";
    this.#listbox = listbox;

    const live = hide(document.createElement("div"));
    live.className = "qac-live";
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("aria-atomic", "true");
    this.#live = live;

    if (this.#opts.notice instanceof HTMLElement) {
      this.#notice = this.#opts.notice;
    } else if (!this.#opts.notice) {
      this.#notice = document.createElement("div"); // never shown: the host said no notice
    } else {
      this.#notice = document.createElement("div");
      this.#notice.className = "qac-notice";
      this.#notice.dataset.qacOwned = "";
      this.#notice.style.position = "absolute";
      this.#notice.hidden = true;
    }
    input.after(listbox, live, ...(this.#notice.dataset.qacOwned === "" ? [this.#notice] : []));

    const attrs = {
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": listbox.id, autocomplete: "off", autocapitalize: "off", spellcheck: "false",
      "aria-activedescendant": null, "data-qac-state": this.#conn.state,
    };
    for (const [name, value] of Object.entries(attrs)) {
      this.#saved[name] = input.getAttribute(name);
      if (value === null) input.removeAttribute(name);
      else input.setAttribute(name, value);
    }
  }

  #on(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this.#off.push(() => target.removeEventListener(type, fn, opts));
  }

  #wire() {
    const input = this.#input;
    this.#on(input, "input", (e) => { if (!e.isComposing) this.#onInput(); });
    this.#on(input, "compositionend", () => this.#onInput());
    this.#on(input, "keydown", (e) => this.#onKeyDown(e));
    this.#on(input, "focus", () => this.#onFocus());
    this.#on(input, "blur", () => this.#close());
    if (input.form) this.#on(input.form, "submit", () => this.#commit(input.value, "form"));
    // Keep focus in the input while a pointer presses an option (touch taps included).
    this.#on(this.#listbox, "mousedown", (e) => e.preventDefault());
    this.#on(this.#listbox, "click", (e) => this.#onClick(e));
    this.#on(window, "resize", () => this.#open && this.#place());

    const c = this.#conn;
    this.#on(c, "status", (e) => this.#onStatus(e.detail));
    this.#on(c, "completions", (e) => this.#onCompletions(e.detail));
    this.#on(c, "ack", (e) => this.#emit("ack", { ...e.detail }));
    this.#on(c, "error", (e) => this.#emit("error", { ...e.detail }));
    this.#on(c, "frame", (e) => this.#emit("frame", { ...e.detail }));
  }

  #emit(name, detail, cancelable = false) {
    const ev = new CustomEvent(EVENTS[name], { detail, bubbles: true, composed: true, cancelable });
    return this.#input.dispatchEvent(ev);
  }

  #onStatus(detail) {
    const { state } = detail;
    this.#input.setAttribute("data-qac-state", state);
    const offline = state === State.OFFLINE;
    if (offline) {
      this.#items = [];
      this.#close();
    }
    if (this.#notice.dataset.qacOwned === "") {
      this.#notice.hidden = !offline;
      if (offline) this.#placeNotice();
    }
    if (offline && this.#notice.textContent !== this.#opts.messages.offline) {
      this.#notice.textContent = this.#opts.messages.offline;
    } else if (!offline && this.#notice.dataset.qacOwned !== "") {
      this.#notice.textContent = "";
    }
    if (state === State.OPEN && detail.hello) {
      if (this.#opts.rememberSession && detail.session) writeStored(this.#storageKey, detail.session);
      // Back after an outage (or a new session): refresh what is on screen.
      if (document.activeElement === this.#input) this.#request();
    }
    this.#emit("status", { ...detail });
  }

  #reset() {
    this.#items = [];
    this.#close();
    this.#conn.cancel();
    this.#lastCommit = { query: null, at: 0 };
  }

  /** Whether `value` is worth a request: long enough, and within the server's limit. */
  #askable(value) {
    const n = normalizeTyped(value).length;
    return n >= this.#opts.minChars && n <= (this.#conn.limits?.max_prefix_chars ?? MAX_PREFIX_CHARS);
  }

  #onInput() {
    this.#typed = this.#input.value;
    this.#active = -1;
    if (!this.#askable(this.#typed)) {
      clearTimeout(this.#debounce);
      this.#conn.cancel();
      this.#items = [];
      this.#close();
      return;
    }
    // Until the reply comes, keep the suggestions that still extend what is typed.
    const norm = normalizeTyped(this.#typed);
    this.#items = this.#items.filter((it) => it.text.startsWith(norm));
    this.#show();
    this.#request();
  }

  #onFocus() {
    this.#typed = this.#input.value;
    if (this.#askable(this.#typed)) this.#request();
  }

  #request() {
    clearTimeout(this.#debounce);
    if (!this.#askable(this.#typed)) return;
    const send = () => this.#conn.complete(this.#typed, this.#opts.k);
    if (this.#opts.debounceMs > 0) this.#debounce = setTimeout(send, this.#opts.debounceMs);
    else send();
  }

  #onCompletions({ prefix, items, tookMs }) {
    const next = items.slice(0, this.#opts.k).map(sanitizeItem);
    const activeText = this.#active >= 0 ? this.#items[this.#active]?.text : null;
    this.#items = next;
    this.#active = activeText ? next.findIndex((it) => it.text === activeText) : -1;
    if (activeText && this.#active < 0) this.#input.value = this.#typed;
    this.#show();
    this.#announce(next.length ? this.#opts.messages.count(next.length) : this.#opts.messages.none);
    this.#emit("results", { prefix, items: this.items, tookMs });
  }

  /** Render the items and open the popup, or close it when there is nothing to show. */
  #show() {
    if (!this.#items.length || document.activeElement !== this.#input) {
      this.#render();
      this.#close();
      return;
    }
    this.#render();
    this.#listbox.hidden = false;
    this.#open = true;
    this.#input.setAttribute("aria-expanded", "true");
    this.#place();
    this.#syncActive();
  }

  #close() {
    this.#open = false;
    this.#active = -1;
    this.#listbox.hidden = true;
    this.#input.setAttribute("aria-expanded", "false");
    this.#syncActive();
  }

  #render() {
    const { messages, renderItem } = this.#opts;
    const frag = document.createDocumentFragment();
    this.#items.forEach((item, i) => {
      const id = `${this.#baseId}-opt-${i}`;
      frag.append(renderOption(item, i === this.#active, id, this.#typed, messages, { renderItem, index: i }));
    });
    this.#listbox.replaceChildren(frag);
  }

  #place() {
    const i = this.#input;
    // As wide as the input, or wider when the input is narrow (a phone, a box beside a button)
    // and the viewport has room on the side text runs to, so suggestions do not wrap word by
    // word. Left-to-right the list shares the input's left edge and grows rightwards;
    // right-to-left it shares the right edge and grows leftwards.
    const rtl = getComputedStyle(i).direction === "rtl";
    const rect = i.getBoundingClientRect();
    const viewport = document.documentElement.clientWidth;
    const room = (rtl ? rect.right : viewport - rect.left) - VIEWPORT_MARGIN_PX;
    const width = Math.max(i.offsetWidth, Math.min(room, COMFORTABLE_WIDTH_PX));
    const left = rtl ? i.offsetLeft + i.offsetWidth - width : i.offsetLeft;
    Object.assign(this.#listbox.style, {
      top: `${i.offsetTop + i.offsetHeight}px`, left: `${left}px`, width: `${width}px`,
    });
  }

  #placeNotice() {
    const i = this.#input;
    Object.assign(this.#notice.style, {
      top: `${i.offsetTop + i.offsetHeight + 2}px`, left: `${i.offsetLeft}px`, width: `${i.offsetWidth}px`,
    });
  }

  #setActive(index) {
    this.#active = index;
    this.#input.value = index >= 0 ? this.#items[index].text : this.#typed;
    const end = this.#input.value.length;
    this.#input.setSelectionRange?.(end, end);
    this.#syncActive();
  }

  #syncActive() {
    for (const [i, li] of Array.from(this.#listbox.children).entries()) {
      li.setAttribute("aria-selected", String(i === this.#active));
    }
    const li = this.#active >= 0 ? this.#listbox.children[this.#active] : null;
    if (li) {
      this.#input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView?.({ block: "nearest" });
    } else {
      this.#input.removeAttribute("aria-activedescendant");
    }
  }

  #move(delta) {
    const n = this.#items.length;
    if (!this.#open) this.#show();
    if (!this.#open) return;
    // -1 is the input itself: stepping past either end returns to what was typed.
    let next = this.#active + delta;
    if (next >= n) next = -1;
    else if (next < -1) next = n - 1;
    this.#setActive(next);
  }

  #onKeyDown(e) {
    if (e.isComposing || e.keyCode === 229) return; // an IME owns the keys
    const hasActive = this.#open && this.#active >= 0;
    switch (e.key) {
      case "ArrowDown":
      case "ArrowUp":
        if (!this.#items.length) return;
        e.preventDefault();
        if (!this.#open && e.altKey) return this.#show();
        return this.#move(e.key === "ArrowDown" ? 1 : -1);
      case "Home":
      case "End":
        if (!hasActive) return; // caret movement in the text, as usual
        e.preventDefault();
        return this.#setActive(e.key === "Home" ? 0 : this.#items.length - 1);
      case "ArrowLeft":
      case "ArrowRight":
        if (hasActive) this.#keepActiveAsTyped();
        return;
      case "Enter": {
        if (hasActive && !this.#pick(this.#active, "keyboard")) {
          e.preventDefault();
          return;
        }
        this.#conn.cancel();
        this.#close();
        // No preventDefault: the form (if any) submits as a plain input's would.
        this.#commit(this.#input.value, "enter");
        return;
      }
      case "Escape":
        if (this.#open) {
          e.preventDefault();
          this.#conn.cancel();
          this.#input.value = this.#typed;
          this.#close();
        } else if (this.#input.value) {
          e.preventDefault();
          this.#input.value = this.#typed = "";
          this.#items = [];
          this.#conn.cancel();
        }
        return;
      case "Tab":
        if (hasActive) this.#pick(this.#active, "tab");
        else this.#close();
        return; // focus moves on as usual
      case "Delete":
        if (hasActive && e.shiftKey && this.#items[this.#active].source === "history") {
          e.preventDefault();
          this.#remove(this.#active);
        }
        return;
      default:
    }
  }

  #keepActiveAsTyped() {
    this.#typed = this.#input.value;
    this.#active = -1;
    this.#syncActive();
  }

  /** Put option `index` into the input and close; false when the host cancelled the select. */
  #pick(index, via) {
    const item = this.#items[index];
    const ok = this.#emit("select", { text: item.text, item: { ...item }, index, via }, true);
    if (!ok) {
      this.#input.value = this.#typed;
      this.#close();
      return false;
    }
    this.#input.value = this.#typed = item.text;
    this.#conn.cancel();
    this.#close();
    return true;
  }

  #onClick(e) {
    const li = e.target.closest?.("[role=option]");
    if (!li || !this.#listbox.contains(li)) return;
    const index = Array.prototype.indexOf.call(this.#listbox.children, li);
    if (e.target.closest(".qac-remove")) return this.#remove(index);
    if (!this.#pick(index, "pointer")) return;
    this.#commit(this.#input.value, "pointer");
    const form = this.#input.form;
    if (this.#opts.submitOnPick && form) form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  #remove(index) {
    const [item] = this.#items.splice(index, 1);
    this.#conn.forget({ query: item.text });
    this.#active = -1;
    this.#input.value = this.#typed;
    this.#show();
    this.#announce(this.#opts.messages.removed(item.text));
    this.#emit("forget", { query: item.text });
  }

  #commit(raw, via) {
    const query = String(raw ?? "").trim();
    const now = Date.now();
    // Enter, a pick and the form's submit event can all report one search: send it once.
    const limit = this.#conn.limits?.max_query_chars ?? MAX_QUERY_CHARS;
    if (!query || query.length > limit) return null; // the server would refuse it
    if (query === this.#lastCommit.query && now - this.#lastCommit.at < 1000) return null;
    this.#lastCommit = { query, at: now };
    const { id, queued } = this.#conn.submit(query);
    this.#emit("submit", { query, id, queued, via });
    return id;
  }

  #announce(message) {
    // Polite and slightly delayed so fast typing is announced once, not per keystroke.
    clearTimeout(this.#announceTimer);
    this.#announceTimer = setTimeout(() => { this.#live.textContent = message; }, 150);
  }
}

/** Make `input` an autocompleting combobox; returns its controller (one per input). */
export function attachAutocomplete(input, options = {}) {
  if (!(input instanceof HTMLInputElement)) throw new TypeError("attachAutocomplete wants an <input> element");
  const existing = REGISTRY.get(input);
  if (existing) return existing;
  const ac = new Autocomplete(input, normalizeOptions(options));
  REGISTRY.set(input, ac);
  return ac;
}

/** The controller attached to `input`, or undefined. */
export function getAutocomplete(input) {
  return REGISTRY.get(input);
}

/** Attach to every `input[data-autocomplete]` under `root` (done once on load). */
export function autoAttach(root = document) {
  return Array.from(root.querySelectorAll("input[data-autocomplete]"), (input) => {
    const d = input.dataset;
    const options = {};
    if (d.autocomplete) options.url = d.autocomplete;
    if (d.autocompleteK) options.k = Number(d.autocompleteK);
    if (d.autocompleteMinChars) options.minChars = Number(d.autocompleteMinChars);
    if (d.autocompleteToken) options.token = d.autocompleteToken;
    return attachAutocomplete(input, options);
  });
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => autoAttach());
  else autoAttach();
}
