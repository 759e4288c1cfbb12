// Rendering for autocomplete.js: suggestions become DOM built from text nodes only; whatever
// a server sends is data, never markup (no innerHTML anywhere in the widget).

const SOURCES = new Set(["index", "history", "generated", "fresh"]);

// Letters the server spells as plain keyboards do (indexer/text.py `_LETTERS`), plus the two
// that Python's case folding changes and toLowerCase does not.
const LETTERS = {
  "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ŀ": "l", "ħ": "h", "ŧ": "t", "ı": "i",
  "æ": "ae", "œ": "oe", "þ": "th", "ß": "ss", "ς": "σ",
};
const LETTER_RE = new RegExp(`[${Object.keys(LETTERS).join("")}]`, "g");
// Accents (U+0300-U+036F) after a Latin or Greek letter; other scripts keep their marks.
const ACCENTS = /([\u0000-\u03ff\u1e00-\u1fff])[\u0300-\u036f]+/g;

/**
 * The typed text as the server will read it: NFKC (full-width "ｎｅｗ" is "new"), lowercase,
 * accents on Latin and Greek letters dropped ("café" is "cafe"), spaces collapsed, no lead.
 */
export function normalizeTyped(text) {
  const lower = text.normalize("NFKC").toLowerCase();
  return lower.normalize("NFD").replace(ACCENTS, "$1").normalize("NFC")
    .replace(LETTER_RE, (ch) => LETTERS[ch])
    .replace(/\s+/g, " ").trimStart();
}

/** [start, end) in code points of the part of `text` standing for what was typed. */
function typedSpan(chars, typed, match) {
  if (Array.isArray(match) && match.length === 2 && Number.isInteger(match[0]) && Number.isInteger(match[1])
      && match[0] >= 0 && match[0] <= match[1] && match[1] <= chars.length) {
    return match;
  }
  const norm = normalizeTyped(typed);
  const text = chars.join("");
  if (norm && text.toLowerCase().startsWith(norm)) return [0, Array.from(text.slice(0, norm.length)).length];
  return [0, 0];
}

/**
 * Split `text` into [{text, typed}] runs: `typed` marks what the user typed (shown plain),
 * the rest is the completion (emphasised). `match` = [start, end) in code points, as the
 * server may send; otherwise the typed prefix when `text` extends it.
 */
export function highlightSegments(text, typed, match) {
  const chars = Array.from(text);
  const [start, end] = typedSpan(chars, typed, match);
  const runs = [
    { text: chars.slice(0, start).join(""), typed: false },
    { text: chars.slice(start, end).join(""), typed: true },
    { text: chars.slice(end).join(""), typed: false },
  ];
  return runs.filter((r) => r.text);
}

/**
 * The runs of an item as a renderer shows them: [{text, kind, typed}] where kind is "typed"
 * (what the user typed), "fix" (inside the typed part of a spelling correction, what the
 * server changed: "amazom" -> "amazo" + fix "n") or "completion" (the rest). `typed` is true
 * for "typed" and "fix" runs.
 */
export function itemParts(item, typed) {
  const chars = Array.from(item.text);
  const [start, end] = typedSpan(chars, typed, item.match);
  const parts = [{ text: chars.slice(0, start).join(""), kind: "completion" }];
  const span = chars.slice(start, end);
  if (item.corrected === true) {
    // The changed middle: what is left of the span after the longest common prefix and
    // suffix with what was typed (one edit or a few adjacent ones, as spelling fixes are).
    const was = Array.from(normalizeTyped(typed));
    let head = 0;
    while (head < span.length && head < was.length && span[head] === was[head]) head += 1;
    let tail = 0;
    while (tail < span.length - head && tail < was.length - head
           && span[span.length - 1 - tail] === was[was.length - 1 - tail]) tail += 1;
    parts.push(
      { text: span.slice(0, head).join(""), kind: "typed" },
      { text: span.slice(head, span.length - tail).join(""), kind: "fix" },
      { text: span.slice(span.length - tail).join(""), kind: "typed" },
    );
  } else {
    parts.push({ text: span.join(""), kind: "typed" });
  }
  parts.push({ text: chars.slice(end).join(""), kind: "completion" });
  return parts.filter((p) => p.text).map((p) => ({ ...p, typed: p.kind !== "completion" }));
}

export function sanitizeItem(raw) {
  return {
    ...raw,
    text: raw.text,
    source: SOURCES.has(raw.source) ? raw.source : "index",
    score: typeof raw.score === "number" ? raw.score : null,
    corrected: raw.corrected === true,
  };
}

const PART_TAGS = { typed: ["span", "qac-typed"], completion: ["b", "qac-completion"], fix: ["mark", "qac-fix"] };

function defaultContent(parts) {
  return parts.map((part) => {
    const [tag, className] = PART_TAGS[part.kind];
    const el = document.createElement(tag);
    el.className = className;
    el.textContent = part.text;
    return el;
  });
}

/** What the host's `renderItem` made of `item`, or null to use the default look. A throwing
 * hook is reported (window "error" event, console) and the default look used instead. */
function hostContent(renderItem, item, parts, context) {
  if (typeof renderItem !== "function") return null;
  let out;
  try {
    out = renderItem({ ...item }, parts.map((p) => ({ ...p })), context);
  } catch (err) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(err);
    return null;
  }
  if (out === null || out === undefined) return null;
  if (typeof out === "string") return [document.createTextNode(out)]; // text, never markup
  if (out instanceof Node) return [out];
  return null;
}

/**
 * One listbox option for `item`. The option itself (role, id, selection, `data-source`, the
 * `qac-option--<source>` and `qac-option--corrected` classes) and its accessible notes are
 * always the widget's; `renderItem(item, parts, context)` may replace what is inside
 * `.qac-text`. A correction is introduced by `messages.corrected` ("did you mean"), read
 * before the text; a fresh item carries a `messages.fresh` badge; a history item a note and
 * a pointer-only remove control.
 */
export function renderOption(item, selected, id, typed, messages, { renderItem = null, index = 0 } = {}) {
  const li = document.createElement("li");
  li.id = id;
  li.className = `qac-option qac-option--${item.source}`;
  if (item.corrected) li.classList.add("qac-option--corrected");
  li.setAttribute("role", "option");
  li.setAttribute("aria-selected", String(selected));
  li.dataset.source = item.source;
  li.dataset.value = item.text;
  if (item.corrected) {
    const label = document.createElement("span");
    label.className = "qac-label";
    label.textContent = `${messages.corrected} `;
    li.append(label);
  }
  const parts = itemParts(item, typed);
  const text = document.createElement("span");
  text.className = "qac-text";
  text.append(...(hostContent(renderItem, item, parts, { index, selected, typed, messages }) ?? defaultContent(parts)));
  li.append(text);
  if (item.source === "fresh") {
    const badge = document.createElement("span");
    badge.className = "qac-badge";
    badge.setAttribute("aria-hidden", "true"); // announced by the note below, once
    badge.textContent = messages.fresh;
    const note = hide(document.createElement("span"));
    note.textContent = `, ${messages.fresh}`;
    li.append(badge, note);
  }
  if (item.source === "history") {
    const note = hide(document.createElement("span"));
    note.textContent = `, ${messages.history}`;
    const remove = document.createElement("span");
    remove.className = "qac-remove";
    remove.setAttribute("aria-hidden", "true"); // keyboard users have Shift+Delete on the option
    remove.title = messages.remove;
    remove.textContent = "×";
    li.append(note, remove);
  }
  return li;
}

export function hide(el) {
  // Visually hidden but announced; inline so it holds before the stylesheet arrives.
  Object.assign(el.style, {
    position: "absolute", width: "1px", height: "1px", margin: "-1px", padding: "0",
    overflow: "hidden", clip: "rect(0 0 0 0)", whiteSpace: "nowrap", border: "0",
  });
  return el;
}
