// Read: every token shaded by the model's surprise; hovering one shows the top-5 predictions before it.
import { $, api } from "./api.js";
import { fmt, renderTokens, shown, surpriseColour } from "./text.js";

let scored = null;

function tipHtml(i) {
  const step = scored.steps[i], tokens = scored.tokens;
  const ctx = tokens.slice(Math.max(0, i - 16), i).map(shown).join("");
  const rows = document.createElement("table");
  if (!step) {
    rows.insertRow().insertCell().textContent = "the first token: nothing predicts it";
  } else {
    const best = step.top[0][1];
    for (const [tok, p] of step.top) {
      const tr = rows.insertRow();
      if (tok === tokens[i]) tr.className = "actual";
      tr.insertCell().textContent = JSON.stringify(tok);
      tr.insertCell().textContent = fmt(p, 3);
      const bar = tr.insertCell();
      bar.className = "bar";
      const fill = bar.appendChild(document.createElement("i"));
      fill.style.width = `${Math.round((80 * p) / best)}px`;  // CSSOM: allowed by the page's CSP
    }
  }
  const box = document.createElement("div");
  const head = document.createElement("div");
  head.className = "ctx";
  head.textContent = `…${ctx}▏`;
  box.appendChild(head);
  if (step) {
    const actual = document.createElement("div");
    actual.className = "actual-line";
    actual.textContent = `next: ${JSON.stringify(tokens[i])}  p = ${fmt(step.p, 4)}  (${fmt(step.bits, 2)} bits)`;
    box.appendChild(actual);
  }
  box.appendChild(rows);
  return box;
}

export function showTip(target, content) {
  const tip = $("tip");
  tip.textContent = "";
  tip.appendChild(content);
  tip.hidden = false;
  const r = target.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
  const left = Math.min(window.innerWidth - w - 8, Math.max(8, r.left + r.width / 2 - w / 2));
  const top = r.bottom + 8 + h < window.innerHeight ? r.bottom + 8 : Math.max(8, r.top - h - 8);
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}

export function hideTip() {
  $("tip").hidden = true;
}

async function score() {
  const text = $("read-text").value;
  if (!text.trim()) return;
  scored = await api("/api/score", { text });
  const max = scored.uniform_bits;
  renderTokens($("read-out"), scored.tokens, (i) => surpriseColour(scored.steps[i] ? scored.steps[i].bits : null, max));
  $("read-legend-max").textContent = `${fmt(max, 1)} bits (uniform)`;
  $("read-summary").textContent = scored.mean_bits === null ? "" :
    `${fmt(scored.mean_bits, 3)} bits per token · perplexity ${fmt(scored.perplexity, 2)} · ` +
    `uniform ${fmt(max, 2)} bits` + (scored.unknown.length ? ` · ${scored.unknown.length} unknown tokens` : "");
}

export async function excerpt(target, length = 600) {
  const data = await api("/api/excerpt", { length });
  $(target).value = data.text;
  return data;
}

export function setup(info) {
  $("read-text").maxLength = info.limits.max_text;
  $("read-go").addEventListener("click", () => score().catch(() => {}));
  $("read-excerpt").disabled = !info.excerpts;
  $("read-excerpt").title = info.excerpt_note;
  $("read-excerpt").addEventListener("click", () => excerpt("read-text").then(score).catch(() => {}));
  const out = $("read-out");
  out.addEventListener("mouseover", (e) => {
    const t = e.target.closest(".t");
    if (t && scored) showTip(t, tipHtml(Number(t.dataset.i)));
  });
  out.addEventListener("mouseleave", hideTip);
  out.addEventListener("click", (e) => {  // a tap on a phone
    const t = e.target.closest(".t");
    if (t && scored) showTip(t, tipHtml(Number(t.dataset.i)));
  });
}
