// Rendering for autocomplete.js: suggestions become DOM built from text nodes only; whatever
// a server sends is data, never markup (no innerHTML anywhere in the widget).

const SOURCES = new Set(["index", "history", "generated"]);

/** The typed text as the server will read it: NFKC, lowercase, spaces collapsed, no lead. */
export function normalizeTyped(text) {
  return text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trimStart();
}

/**
 * Split `text` into [{text, typed}] runs: `typed` marks what the user typed (shown plain),
 * the rest is the completion (emphasised). `match` = [start, end) in code points, as the
 * server may send; otherwise the typed prefix when `text` extends it.
 */
export function highlightSegments(text, typed, match) {
  const chars = Array.from(text);
  let start = 0;
  let end = 0;
  if (Array.isArray(match) && match.length === 2 && Number.isInteger(match[0]) && Number.isInteger(match[1])
      && match[0] >= 0 && match[0] <= match[1] && match[1] <= chars.length) {
    [start, end] = match;
  } else {
    const norm = normalizeTyped(typed);
    if (norm && text.toLowerCase().startsWith(norm)) end = Array.from(text.slice(0, norm.length)).length;
  }
  const runs = [
    { text: chars.slice(0, start).join(""), typed: false },
    { text: chars.slice(start, end).join(""), typed: true },
    { text: chars.slice(end).join(""), typed: false },
  ];
  return runs.filter((r) => r.text);
}

export function sanitizeItem(raw) {
  return {
    ...raw,
    text: raw.text,
    source: SOURCES.has(raw.source) ? raw.source : "index",
    score: typeof raw.score === "number" ? raw.score : null,
  };
}

/** One listbox option for `item`; a history item also gets a pointer-only remove control. */
export function renderOption(item, selected, id, typed, messages) {
  const li = document.createElement("li");
  li.id = id;
  li.className = "qac-option";
  li.setAttribute("role", "option");
  li.setAttribute("aria-selected", String(selected));
  li.dataset.source = item.source;
  li.dataset.value = item.text;
  const text = document.createElement("span");
  text.className = "qac-text";
  for (const run of highlightSegments(item.text, typed, item.match)) {
    const el = document.createElement(run.typed ? "span" : "b");
    el.className = run.typed ? "qac-typed" : "qac-completion";
    el.textContent = run.text;
    text.append(el);
  }
  li.append(text);
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
