// deeprnn serve: the page. Loads the run's info, sets up the four views and switches between them.
import { $, api, clearNotice, setStatus } from "./api.js";
import * as generate from "./generate.js";
import * as inside from "./inside.js";
import * as read from "./read.js";
import * as run from "./run.js";
import { setLevel } from "./text.js";

const SAMPLE = 'The "quick" brown fox (a fox, really) jumps over the lazy dog.\n' +
  'It said: "nothing (at all) is lost", and ran on.\n';

function showView(name) {
  for (const tab of document.querySelectorAll(".tabs button")) {
    const on = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(on));
    $(`view-${tab.dataset.view}`).hidden = !on;
  }
  read.hideTip();
  if (name === "run") drawCurves();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

let drawCurves = () => {};

async function start() {
  $("notice-close").addEventListener("click", clearNotice);
  let info;
  try {
    info = await api("/api/info");
  } catch (err) {
    setStatus("offline", "offline");
    return;
  }
  document.title = `${info.run} · deeprnn serve`;
  $("run-name").textContent = `${info.run} · ${info.config.model.cell.toUpperCase()} ${info.model.layers}×${info.model.hidden}` +
    ` · ${info.weights} weights, step ${info.step}`;
  setLevel(info.vocab.level);
  generate.setup(info);
  read.setup(info);
  inside.setup(info);
  drawCurves = run.setup(info);
  for (const tab of document.querySelectorAll(".tabs button")) tab.addEventListener("click", () => showView(tab.dataset.view));
  const fromHash = () => {
    const name = location.hash.slice(1);
    showView(["generate", "read", "inside", "run"].includes(name) ? name : "generate");
  };
  window.addEventListener("hashchange", fromHash);
  fromHash();
  $("inside-text").value = SAMPLE;
  if (info.excerpts) await read.excerpt("read-text", 400).catch(() => {});
  else $("read-text").value = SAMPLE;
  document.body.dataset.ready = "true";
}

start();
