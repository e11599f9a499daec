// Talking to the server: JSON requests, the server-sent event stream, and what the page shows about them
// (the status pill while requests run, a notice when one is refused or the server is busy).

const $ = (id) => document.getElementById(id);
let pending = 0;

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

function track(delta) {
  pending += delta;
  if (pending > 0) setStatus("working", "working…");
  else if ($("status").dataset.state === "working") setStatus("ready", "ready");
}

export function notify(message, kind = "error") {
  const box = $("notice");
  box.dataset.kind = kind;
  $("notice-text").textContent = message;
  box.hidden = false;
}

export function clearNotice() {
  $("notice").hidden = true;
}

export function report(err) {
  if (err.name === "AbortError") return;
  if (err instanceof ApiError && err.status === 503) {
    setStatus("busy", "busy");
    notify(err.message.charAt(0).toUpperCase() + err.message.slice(1), "busy");
  } else if (err instanceof ApiError) {
    const limit = err.body.limit !== undefined ? ` (limit: ${JSON.stringify(err.body.limit)})` : "";
    notify(`Refused (${err.status}): ${err.message}${limit}`);
  } else {
    setStatus("offline", "offline");
    notify(`Cannot reach the server: ${err.message}`);
  }
}

async function send(path, body, signal) {
  const init = body === undefined ? { signal } : {
    method: "POST", signal, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  if (!res.ok) {
    const data = await res.json().catch(() => ({ error: `HTTP ${res.status} ${res.statusText}` }));
    throw new ApiError(res.status, data);
  }
  return res;
}

// POST (or GET without a body) a JSON request; resolves to the answer, or reports and rethrows the error.
export async function api(path, body) {
  track(+1);
  try {
    const data = await (await send(path, body)).json();
    clearNotice();
    setStatus("ready", "ready");
    return data;
  } catch (err) {
    report(err);
    throw err;
  } finally {
    track(-1);
  }
}

// POST a request answered with server-sent events; calls onEvent(name, data) for each as it arrives.
export async function stream(path, body, onEvent, signal) {
  track(+1);
  try {
    const res = await send(path, body, signal);
    clearNotice();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        onEvent(name, JSON.parse(data));
      }
    }
    setStatus("ready", "ready");
  } catch (err) {
    report(err);
    if (err.name !== "AbortError") throw err;
  } finally {
    track(-1);
  }
}

export { $, setStatus };
