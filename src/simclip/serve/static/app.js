// The search page: talks to the JSON API only, builds the DOM with textContent (file names are data,
// never markup), and loads nothing from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function callApi(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (_) { /* non-JSON error page */ }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `HTTP ${response.status}`;
    throw new Error(detail);
  }
  return body;
}

function showResults(data) {
  const grid = $("results");
  grid.replaceChildren();
  for (const hit of data.results) {
    const figure = document.createElement("figure");
    figure.className = "hit";
    const img = document.createElement("img");
    img.src = hit.url;
    img.alt = hit.id;
    img.loading = "lazy";
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "id";
    name.textContent = hit.id;
    name.title = hit.id;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.score.toFixed(3);
    caption.append(name, score);
    figure.append(img, caption);
    grid.append(figure);
  }
  setStatus(`${data.results.length} results for “${data.query}” in ${data.took_ms.toFixed(0)} ms`);
}

async function withBusy(form, work) {
  const button = form.querySelector("button");
  button.disabled = true;
  try { await work(); } catch (err) { setStatus(err.message, true); } finally { button.disabled = false; }
}

function uploadForm(file, extra = {}) {
  const body = new FormData();
  body.append("file", file);
  for (const [key, value] of Object.entries(extra)) body.append(key, value);
  return body;
}

$("text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("query").value.trim();
  if (!q) { setStatus("type something to search for", true); return; }
  const params = new URLSearchParams({ q, k: $("k").value });
  withBusy(event.target, async () => showResults(await callApi(`/api/search?${params}`)));
});

$("image-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("image-file").files[0];
  if (!file) { setStatus("choose an image file first", true); return; }
  withBusy(event.target, async () => showResults(
    await callApi(`/api/search/image?k=${$("k").value}`, { method: "POST", body: uploadForm(file) })));
});

function showBars(data) {
  const bars = $("bars");
  bars.replaceChildren();
  const best = Math.max(...data.results.map((r) => r.probability));
  for (const result of data.results) {
    const row = document.createElement("div");
    row.className = "bar-row" + (result.probability === best ? " top" : "");
    const label = document.createElement("span");
    label.className = "bar-label";
    label.textContent = result.label;
    label.title = result.prompt;
    const track = document.createElement("div");
    track.className = "bar-track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * result.probability).toFixed(1)}%`;
    track.append(bar);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = `${(100 * result.probability).toFixed(1)}%`;
    row.append(label, track, value);
    bars.append(row);
  }
}

$("classify-file").addEventListener("change", () => {
  const file = $("classify-file").files[0];
  const preview = $("classify-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = !file;
  if (file) preview.src = URL.createObjectURL(file);
});

$("classify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("classify-file").files[0];
  if (!file) { setStatus("choose an image to classify", true); return; }
  const body = uploadForm(file, { labels: $("labels").value });
  withBusy(event.target, async () => {
    showBars(await callApi("/api/classify", { method: "POST", body }));
    setStatus("classified " + file.name);
  });
});

// How the header names the model: its name, or its checkpoint's file name where the name is only
// that file's stem (a run's model.safetensors is "model") — never "model model".
function modelLabel(model) {
  const name = model.model || "";
  const file = model.checkpoint || "";
  const shown = file && file.replace(/\.[^.]*$/, "") === name ? file : name;
  return /^model\b/i.test(shown) ? shown : `model ${shown}`;
}

async function loadInfo() {
  try {
    const info = await callApi("/api/info");
    const index = info.index;
    $("info").textContent = `${index.count.toLocaleString()} images · ${modelLabel(info.model)} · ` +
      `${index.dim}-d embeddings · ${index.vector_index.kind} search`;
  } catch (err) {
    $("info").textContent = `could not load index info: ${err.message}`;
  }
}

loadInfo();
