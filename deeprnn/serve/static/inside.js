// Look inside: the text coloured by one unit's activation (blue < 0 < red), and the units whose
// activation best tracks a pattern, each shown as a coloured line of the same text.
import { $, api } from "./api.js";
import { activationColour, fmt, renderTokens } from "./text.js";

const PRESETS = [
  ["inside double quotes", '"[^"\\n]*"'],
  ["inside parentheses", "\\([^()\\n]*\\)"],
  ["first character of a line", "(?m)^."],
  ["last character of a line", "(?m).$"],
  ["digits", "\\d"],
  ["capital letters", "[A-Z]"],
];

let info = null;
let cache = { key: null, data: null };  // the last activations answer (every unit of one layer and state)

function scaleOf(values, state) {
  const m = values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  return state === "h" && m <= 1 ? 1 : Math.max(m, 1e-6);  // h of tanh cells lies in [-1, 1]
}

function paint(el, tokens, values, state) {
  const s = scaleOf(values, state);
  renderTokens(el, tokens, (i) => activationColour(values[i], s));
  return s;
}

// {tokens, values (T,)} of one unit: from one answer holding every unit of the layer when it is small
// enough (moving the slider then asks nothing more), else one unit at a time.
async function unitValues(text, layer, state, unit) {
  const key = JSON.stringify([text, layer, state]);
  if (cache.key !== key) {
    const whole = text.length * info.model.hidden <= info.limits.max_values;
    const data = await api("/api/activations", { text, layer, state, unit: whole ? null : unit });
    if (!whole) return data;
    cache = { key, data };
  }
  return { tokens: cache.data.tokens, values: cache.data.values.map((row) => row[unit]) };
}

async function show() {
  const text = $("inside-text").value;
  if (!text.trim()) return;
  const layer = Number($("inside-layer").value), state = $("inside-state").value;
  const unit = Math.min(info.model.hidden - 1, Math.max(0, Number($("inside-unit").value) || 0));
  const { tokens, values } = await unitValues(text, layer, state, unit);
  const s = paint($("inside-out"), tokens, values, state);
  $("inside-title").textContent = `Layer ${layer}, ${state}, unit ${unit}`;
  $("inside-lo").textContent = fmt(-s, 2);
  $("inside-hi").textContent = `+${fmt(s, 2)}`;
  const lo = Math.min(...values), hi = Math.max(...values);
  $("inside-meta").textContent = `from ${fmt(lo)} to ${fmt(hi)}`;
}

function select(layer, state, unit) {
  $("inside-layer").value = String(layer);
  $("inside-state").value = state;
  $("inside-unit").value = String(unit);
  $("inside-unit-range").value = String(unit);
}

async function findUnits() {
  const text = $("inside-text").value, pattern = $("units-pattern").value;
  if (!text.trim() || !pattern) return;
  const data = await api("/api/units", { text, pattern, top: 8 });
  const mask = renderTokens($("units-mask"), data.tokens, null);
  data.on.forEach((on, i) => on && mask[i].classList.add("on"));
  $("units-meta").textContent = `${data.matched} of ${data.tokens.length} characters on`;
  const list = $("units-out");
  list.textContent = "";
  for (const u of data.units) {
    const li = document.createElement("li");
    li.dataset.layer = u.layer;
    li.dataset.state = u.state;
    li.dataset.unit = u.unit;
    const head = li.appendChild(document.createElement("div"));
    head.className = "head";
    head.innerHTML = "<b></b> <span class='meta'></span>";
    head.firstChild.textContent = `r = ${u.r >= 0 ? "+" : ""}${fmt(u.r, 3)}`;
    head.lastChild.textContent = `layer ${u.layer} · ${u.state} · unit ${u.unit}`;
    const line = li.appendChild(document.createElement("div"));
    line.className = "tokens";
    paint(line, data.tokens, u.values, u.state);
    li.addEventListener("click", () => {
      select(u.layer, u.state, u.unit);
      show().catch(() => {});
      $("inside-out").scrollIntoView({ behavior: "smooth", block: "center" });
    });
    list.appendChild(li);
  }
}

export function setup(runInfo) {
  info = runInfo;
  const { layers, hidden, states } = info.model;
  $("inside-layer").innerHTML = "";
  for (let l = 0; l < layers; l++) $("inside-layer").add(new Option(`${l}${l === 0 ? " (input side)" : l === layers - 1 ? " (top)" : ""}`, String(l)));
  for (const s of states) $("inside-state").add(new Option(s === "h" ? "h (hidden)" : "c (cell)", s));
  for (const id of ["inside-unit", "inside-unit-range"]) $(id).max = String(hidden - 1);
  $("inside-text").maxLength = info.limits.max_text;
  $("inside-unit-range").addEventListener("input", () => {
    $("inside-unit").value = $("inside-unit-range").value;
    show().catch(() => {});
  });
  $("inside-unit").addEventListener("change", () => {
    $("inside-unit-range").value = $("inside-unit").value;
    show().catch(() => {});
  });
  for (const id of ["inside-layer", "inside-state"]) $(id).addEventListener("change", () => show().catch(() => {}));
  $("inside-go").addEventListener("click", () => show().catch(() => {}));
  $("inside-excerpt").disabled = !info.excerpts;
  $("inside-excerpt").addEventListener("click", async () => {
    const data = await api("/api/excerpt", { length: 600 }).catch(() => null);
    if (data) { $("inside-text").value = data.text; show().catch(() => {}); }
  });
  for (const [name, pattern] of PRESETS) {
    const b = document.createElement("button");
    b.textContent = name;
    b.title = pattern;
    b.addEventListener("click", () => { $("units-pattern").value = pattern; findUnits().catch(() => {}); });
    $("units-presets").appendChild(b);
  }
  $("units-go").addEventListener("click", () => findUnits().catch(() => {}));
  $("units-pattern").addEventListener("keydown", (e) => e.key === "Enter" && findUnits().catch(() => {}));
}
