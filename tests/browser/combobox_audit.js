// An axe-style audit of the WAI-ARIA 1.2 combobox pattern (editable combobox with a listbox
// popup), evaluated in the page by test_accessibility.py. Returns a list of problems; [] = fine.
() => {
  const problems = [];
  const fail = (msg) => problems.push(msg);
  const ids = new Map();
  for (const el of document.querySelectorAll("[id]")) ids.set(el.id, (ids.get(el.id) || 0) + 1);
  for (const [id, n] of ids) if (n > 1) fail(`id ${id} is used ${n} times`);

  const name = (el) => {
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label").trim();
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ").trim();
    return Array.from(el.labels || []).map((l) => l.textContent).join(" ").trim();
  };
  const focusable = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";
  const boxes = document.querySelectorAll("[role=combobox]");
  if (!boxes.length) fail("no element has role=combobox");
  for (const box of boxes) {
    const tag = `combobox #${box.id}`;
    if (box.tagName !== "INPUT") fail(`${tag}: expected an <input>, got <${box.tagName}>`);
    if (!name(box)) fail(`${tag}: has no accessible name`);
    if (box.getAttribute("aria-autocomplete") !== "list") fail(`${tag}: aria-autocomplete is not "list"`);
    const expanded = box.getAttribute("aria-expanded");
    if (expanded !== "true" && expanded !== "false") fail(`${tag}: aria-expanded is ${expanded}`);
    if (box.getAttribute("autocomplete") !== "off") fail(`${tag}: the browser's own autocomplete is not off`);
    const controls = box.getAttribute("aria-controls");
    const list = controls && document.getElementById(controls);
    if (!list) { fail(`${tag}: aria-controls=${controls} names no element`); continue; }
    if (list.getAttribute("role") !== "listbox") fail(`${tag}: controls a ${list.getAttribute("role")}, not a listbox`);
    if (!name(list)) fail(`${tag}: its listbox has no accessible name`);
    const visible = !list.hidden && list.getClientRects().length > 0;
    if ((expanded === "true") !== visible) fail(`${tag}: aria-expanded=${expanded} but the listbox is ${visible ? "shown" : "hidden"}`);
    const options = Array.from(list.children);
    if (expanded === "true" && !options.length) fail(`${tag}: expanded with an empty listbox`);
    let selected = 0;
    for (const opt of options) {
      if (opt.getAttribute("role") !== "option") fail(`listbox child <${opt.tagName}> has role ${opt.getAttribute("role")}`);
      if (!opt.id) fail(`an option has no id`);
      const sel = opt.getAttribute("aria-selected");
      if (sel !== "true" && sel !== "false") fail(`option #${opt.id}: aria-selected is ${sel}`);
      if (sel === "true") selected += 1;
      if (!opt.textContent.trim()) fail(`option #${opt.id}: has no text`);
      if (opt.querySelector(focusable)) fail(`option #${opt.id}: contains a focusable element`);
    }
    if (selected > 1) fail(`${tag}: ${selected} options are aria-selected`);
    const active = box.getAttribute("aria-activedescendant");
    if (active !== null) {
      const opt = document.getElementById(active);
      if (!opt) fail(`${tag}: aria-activedescendant=${active} names no element`);
      else if (!list.contains(opt) || opt.getAttribute("role") !== "option") fail(`${tag}: aria-activedescendant is not an option of its listbox`);
      else if (opt.getAttribute("aria-selected") !== "true") fail(`${tag}: the active option is not aria-selected`);
      if (expanded !== "true") fail(`${tag}: aria-activedescendant set while collapsed`);
    } else if (selected) {
      fail(`${tag}: an option is aria-selected but none is active`);
    }
    const live = box.parentElement.querySelector("[aria-live]");
    if (!live) fail(`${tag}: no live region next to it`);
    else if (live.getAttribute("aria-live") !== "polite" || live.getAttribute("role") !== "status") fail(`${tag}: the live region is not a polite status`);
  }
  return problems;
}
