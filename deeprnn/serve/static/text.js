// Text drawn token by token, each token a <span class="t" data-i="…"> shaded by a number, and the
// colour scales: surprise (white -> red) and activation (blue -> white -> red).

const SPACE_WORDS = { value: false };

export function setLevel(level) {
  SPACE_WORDS.value = level === "word";
}

// What a token looks like on the page: a newline shows as ↵ and then breaks the line.
export function shown(token) {
  return token === "\n" ? "↵" : token === "\t" ? "→\t" : token;
}

// Fill `el` with one span per token; colour(i) gives the background (or null); returns the spans.
export function renderTokens(el, tokens, colour) {
  el.textContent = "";
  const frag = document.createDocumentFragment();
  const spans = [];
  tokens.forEach((tok, i) => {
    const span = document.createElement("span");
    span.className = "t";
    span.dataset.i = i;
    span.textContent = shown(tok);
    if (tok === "\n") span.classList.add("nl");
    const bg = colour ? colour(i) : null;
    if (bg) span.style.background = bg;
    frag.appendChild(span);
    spans.push(span);
    if (tok === "\n") frag.appendChild(document.createTextNode("\n"));
    else if (SPACE_WORDS.value && i < tokens.length - 1) frag.appendChild(document.createTextNode(" "));
  });
  el.appendChild(frag);
  return spans;
}

const lerp = (a, b, t) => Math.round(a + (b - a) * t);
function mix(stops, t) {
  t = Math.min(1, Math.max(0, t));
  const n = stops.length - 1, k = Math.min(n - 1, Math.floor(t * n)), u = t * n - k;
  const [a, b] = [stops[k], stops[k + 1]];
  return `rgb(${lerp(a[0], b[0], u)}, ${lerp(a[1], b[1], u)}, ${lerp(a[2], b[2], u)})`;
}

// Surprise: 0 bits white, `max` bits (the uniform model's) and more deep red.
export function surpriseColour(bits, max) {
  if (bits === null || bits === undefined) return null;
  return mix([[255, 255, 255], [255, 210, 122], [240, 138, 75], [215, 48, 31]], bits / max);
}

// Activation in [-scale, scale]: blue below zero, red above, white at zero.
export function activationColour(v, scale) {
  const t = scale > 0 ? v / scale : 0;
  return t >= 0 ? mix([[255, 255, 255], [214, 47, 39]], t) : mix([[255, 255, 255], [49, 104, 190]], -t);
}

export function fmt(x, digits = 3) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}
