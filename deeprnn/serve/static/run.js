// The run: its perplexity against the uniform baseline, the model, the config, and the training curves
// drawn on a <canvas> (log-scale perplexity against steps).
import { $ } from "./api.js";
import { fmt } from "./text.js";

function row(table, key, value) {
  const tr = table.insertRow();
  tr.insertCell().textContent = key;
  tr.insertCell().textContent = value;
}

function perplexity(info) {
  const box = $("run-ppl");
  box.textContent = "";
  const big = box.appendChild(document.createElement("div"));
  big.className = "big";
  const small = document.createElement("small");
  if (info.val_ppl === null) {
    big.textContent = "no validation yet";
  } else {
    big.textContent = fmt(info.val_ppl, 3);
    small.textContent = `  validation perplexity (${fmt(info.val_bpc, 3)} bits per token, step ${info.val_step})`;
    big.appendChild(small);
  }
  const bars = box.appendChild(document.createElement("div"));
  bars.className = "bars";
  const most = info.uniform_bpc;
  for (const [name, bits, ppl, cls] of [["this model", info.val_bpc, info.val_ppl, ""],
    ["uniform", info.uniform_bpc, info.uniform_ppl, "uniform"]]) {
    if (bits === null || bits === undefined) continue;
    bars.appendChild(document.createElement("span")).textContent = name;
    const bar = bars.appendChild(document.createElement("span")).appendChild(document.createElement("i"));
    bar.className = cls;
    bar.style.width = `${Math.max(1, (100 * bits) / most)}%`;
    bars.appendChild(document.createElement("span")).textContent = `${fmt(bits, 2)} bits · ppl ${fmt(ppl, 1)}`;
  }
}

function model(info) {
  const t = $("run-model");
  t.textContent = "";
  const m = info.config.model;
  row(t, "run", `${info.run} (${info.weights} weights, step ${info.step})`);
  row(t, "cell", `${m.cell.toUpperCase()}, ${m.num_layers} × ${m.hidden_size}` + (m.embedding_dim ? `, embedding ${m.embedding_dim}` : ", one-hot input"));
  row(t, "parameters", info.parameters.toLocaleString("en"));
  row(t, "vocabulary", `${info.vocab.size} ${info.vocab.level === "char" ? "characters" : "words"}`);
  row(t, "engine", info.engine);
  row(t, "corpus", info.config.data.corpus.join(", "));
}

function config(info) {
  const box = $("run-config");
  box.textContent = "";
  for (const section of ["model", "data", "train"]) {
    const col = box.appendChild(document.createElement("div"));
    col.appendChild(document.createElement("h3")).textContent = section;
    for (const [k, v] of Object.entries(info.config[section])) {
      const line = col.appendChild(document.createElement("div"));
      line.appendChild(document.createElement("span")).textContent = `${k} = `;
      line.appendChild(document.createTextNode(JSON.stringify(v)));
    }
  }
}

export function drawCurves(canvas, rows) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth, H = canvas.clientHeight || 320;
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  g.font = "12px system-ui, sans-serif";
  const series = [["validation", "val_ppl", "#2f5fd0"], ["training (running mean)", "train_ppl", "#e0803a"]]
    .map(([name, key, colour]) => ({ name, colour, pts: rows.filter((r) => r[key] !== undefined).map((r) => [r.step, r[key]]) }))
    .filter((s) => s.pts.length);
  if (!series.length) {
    g.fillStyle = "#5d6778";
    g.fillText("no evaluations recorded yet", 20, 30);
    return;
  }
  const all = series.flatMap((s) => s.pts);
  const x1 = Math.max(...all.map((p) => p[0])), x0 = Math.min(0, ...all.map((p) => p[0]));
  let y0 = Math.log10(Math.min(...all.map((p) => p[1]))), y1 = Math.log10(Math.max(...all.map((p) => p[1])));
  if (y1 - y0 < 0.05) { y0 -= 0.05; y1 += 0.05; }
  const pad = { l: 56, r: 16, t: 28, b: 36 };
  const X = (s) => pad.l + ((s - x0) / Math.max(1, x1 - x0)) * (W - pad.l - pad.r);
  const Y = (p) => H - pad.b - ((Math.log10(p) - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  g.strokeStyle = "#dde1e7";
  g.fillStyle = "#5d6778";
  g.lineWidth = 1;
  for (const t of logTicks(10 ** y0, 10 ** y1)) {  // horizontal grid with perplexity labels
    g.beginPath(); g.moveTo(pad.l, Y(t)); g.lineTo(W - pad.r, Y(t)); g.stroke();
    g.textAlign = "right"; g.fillText(String(+t.toPrecision(3)), pad.l - 6, Y(t) + 4);
  }
  for (const s of niceTicks(x0, x1, 6)) {
    g.beginPath(); g.moveTo(X(s), H - pad.b); g.lineTo(X(s), H - pad.b + 4); g.stroke();
    g.textAlign = "center"; g.fillText(String(s), X(s), H - pad.b + 16);
  }
  g.fillText("step", (pad.l + W - pad.r) / 2, H - 4);
  g.save(); g.translate(14, (pad.t + H - pad.b) / 2); g.rotate(-Math.PI / 2); g.fillText("perplexity", 0, 0); g.restore();
  let lx = pad.l;
  for (const s of series) {
    g.strokeStyle = g.fillStyle = s.colour;
    g.lineWidth = 2;
    g.beginPath();
    s.pts.forEach(([a, b], i) => (i ? g.lineTo(X(a), Y(b)) : g.moveTo(X(a), Y(b))));
    g.stroke();
    for (const [a, b] of s.pts) { g.beginPath(); g.arc(X(a), Y(b), 2.5, 0, 2 * Math.PI); g.fill(); }
    g.fillRect(lx, 10, 14, 3);
    g.fillStyle = "#1c2330"; g.textAlign = "left"; g.fillText(s.name, lx + 19, 15);
    lx += 30 + g.measureText(s.name).width;
  }
}

function niceTicks(lo, hi, n) {
  const step0 = (hi - lo) / n || 1, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v));
  return out;
}

function logTicks(lo, hi) {  // 1-2-5 ticks, or every digit when the range is less than a decade
  for (const ms of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
      for (const m of ms) { const v = m * 10 ** e; if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v); }
    if (out.length >= 3) return out;
  }
  return niceTicks(lo, hi, 4).filter((v) => v > 0).concat(lo === hi ? [lo] : []);
}

export function setup(info) {
  perplexity(info);
  model(info);
  config(info);
  const canvas = $("run-curves");
  const draw = () => !$("view-run").hidden && drawCurves(canvas, info.curves);
  window.addEventListener("resize", draw);
  return draw;
}
