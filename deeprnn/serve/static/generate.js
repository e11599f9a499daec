// Generate: a prefix, sampling settings and a seed; the text appears as the server streams it.
import { $, stream } from "./api.js";

let controller = null;

function showSettings() {
  const t = Number($("gen-temperature").value), k = Number($("gen-top-k").value), p = Number($("gen-top-p").value);
  $("gen-temperature-out").textContent = t === 0 ? "0 (greedy)" : t.toFixed(2);
  $("gen-top-k-out").textContent = k === 0 ? "0 (off)" : String(k);
  $("gen-top-p-out").textContent = p >= 1 ? "1.00 (off)" : p.toFixed(2);
}

function request() {
  const seed = $("gen-seed").value.trim();
  return {
    prefix: $("gen-prefix").value,
    length: Number($("gen-length").value),
    temperature: Number($("gen-temperature").value),
    top_k: Number($("gen-top-k").value),
    top_p: Number($("gen-top-p").value),
    seed: seed === "" ? null : Number(seed),
  };
}

async function run() {
  const req = request();
  const out = $("gen-out-text");
  $("gen-out-prefix").textContent = req.prefix;
  out.textContent = "";
  $("gen-meta").textContent = "sampling…";
  $("gen-go").disabled = true;
  $("gen-stop").disabled = false;
  controller = new AbortController();
  const t0 = performance.now();
  let count = 0, seed = req.seed;
  try {
    await stream("/api/generate", req, (event, data) => {
      if (event === "start") {
        seed = data.seed;
        if (data.unknown.length) $("gen-meta").textContent = `not in the vocabulary (read as <unk>): ${data.unknown.join(" ")}`;
      } else if (event === "text") {
        out.textContent += data.text;
        count = out.textContent.length;
      } else if (event === "done") {
        const s = (performance.now() - t0) / 1000;
        $("gen-meta").textContent = `${data.tokens} tokens in ${s.toFixed(2)} s, seed ${seed}`;
        $("gen-out").dataset.done = "true";
      } else if (event === "error") {
        $("gen-meta").textContent = data.error;
      }
    }, controller.signal);
  } catch (err) {
    $("gen-meta").textContent = "refused";
  } finally {
    if (controller.signal.aborted) $("gen-meta").textContent = `stopped after ${count} characters, seed ${seed}`;
    controller = null;
    $("gen-go").disabled = false;
    $("gen-stop").disabled = true;
  }
}

export function setup(info) {
  const lim = info.limits;
  $("gen-top-k").max = String(info.vocab.size);
  $("gen-temperature").max = String(Math.min(2, lim.max_temperature));
  $("gen-length").max = String(lim.max_length);
  $("gen-prefix").maxLength = lim.max_prefix;
  for (const id of ["gen-temperature", "gen-top-k", "gen-top-p"]) $(id).addEventListener("input", showSettings);
  showSettings();
  $("gen-go").addEventListener("click", () => {
    $("gen-out").dataset.done = "false";
    run();
  });
  $("gen-stop").addEventListener("click", () => controller && controller.abort());
}
