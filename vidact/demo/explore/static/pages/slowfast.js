// Page 5, "SlowFast scrubber": the frames each pathway reads on a timeline (GET /api/slowfast/indices), a scrubber
// over it, and the shapes at every stage and lateral connection traced from the real network at lateral ratio 1
// and 2 (GET /api/slowfast/trace).

import { el, svg, showError, clearError, COLORS } from "../lib.js";

const CELL = 13;
const SLOW = COLORS[1];
const FAST = COLORS[0];

const shape = (s) => (s ? `[${s.join(", ")}]` : "–");

function drawTimeline(box, data, cursor) {
  const n = data.num_frames;
  const left = 110;
  const width = left + n * CELL + 10;
  const height = 110;
  const slow = new Set(data.slow), fast = new Set(data.fast);
  const root = svg("svg", { class: "chart slowfast-timeline", width, height, viewBox: `0 0 ${width} ${height}` });
  const rows = [["video frames", null, 22], ["Fast pathway", fast, 48], ["Slow pathway", slow, 74]];
  for (const [name, set, y] of rows) {
    root.append(svg("text", { class: "track-name", x: 4, y: y + 10 }, name));
    const g = svg("g", { class: "pathway", "data-pathway": set === fast ? "fast" : set === slow ? "slow" : "video" });
    for (let f = 0; f < n; f += 1) {
      const on = set ? set.has(f) : true;
      g.append(svg("rect", {
        class: on && set ? "cell on" : "cell", x: left + f * CELL, y, width: CELL - 2, height: 14, rx: 2,
        fill: set ? (on ? (set === slow ? SLOW : FAST) : "#f1f5f9") : "#e2e8f0", "data-frame": f,
      }));
    }
    root.append(g);
  }
  for (let f = 0; f < n; f += 8) {
    root.append(svg("text", { class: "tick", x: left + f * CELL + CELL / 2, y: 16, "text-anchor": "middle" }, String(f)));
  }
  root.append(svg("rect", { class: "cursor-box", x: left + cursor * CELL - 1, y: 18, width: CELL, height: 74, fill: "none", stroke: "#0f172a", "stroke-width": 1.5, "data-frame": cursor }));
  box.replaceChildren(root);
}

function traceTable(trace) {
  const lateralRows = trace.laterals.map((l) => el("tr", { class: "lateral", "data-index": l.index },
    el("td", {}, `lateral → ${l.before}`),
    el("td", { class: "mono fast-in" }, shape(l.fast_in)),
    el("td", { class: "mono lateral-out" }, shape(l.lateral_out)),
    el("td", { class: "mono slow-in" }, shape(l.slow_in)),
    el("td", { class: "mono concat" }, shape(l.concat))));
  const stageRows = trace.stages.map((s) => el("tr", { class: "stage", "data-stage": s.name },
    el("td", {}, s.name), el("td", { class: "mono" }, shape(s.slow)), el("td", { class: "mono" }, shape(s.fast))));
  return el("div", { class: "panel trace", "data-ratio": trace.lateral_ratio },
    el("h2", {}, `lateral_ratio = ${trace.lateral_ratio}`, trace.lateral_ratio === 2 ? " (the paper's 2βC; every published checkpoint)" : " (keeps the Fast width)"),
    el("table", {},
      el("tr", {}, el("th", {}, "stage"), el("th", {}, "Slow [C, T, H, W]"), el("th", {}, "Fast [C, T, H, W]")),
      el("tr", { class: "stage", "data-stage": "input" }, el("td", {}, "input"), el("td", { class: "mono" }, shape(trace.input.slow)), el("td", { class: "mono" }, shape(trace.input.fast))),
      ...stageRows,
      el("tr", {}, el("td", {}, "head"), el("td", { class: "mono", colspan: 2 }, `pooled ${shape(trace.head)} → logits ${shape(trace.logits)}`))),
    el("table", { class: "laterals" },
      el("tr", {}, el("th", {}, "connection"), el("th", {}, "Fast in"), el("th", {}, "time-strided conv out"), el("th", {}, "Slow in"), el("th", {}, "concatenated")),
      ...lateralRows));
}

export async function render(root, api) {
  const model = el("select", { name: "model", "aria-label": "model" });
  const length = el("input", { type: "number", name: "num_frames", value: 64, min: 1, max: 512, style: { width: "5em" } });
  const random = el("button", { type: "button", class: "random" }, "Random start (training)");
  const centred = el("button", { type: "button", class: "centred" }, "Centred (test)");
  const scrub = el("input", { type: "range", min: 0, max: 63, value: 0, class: "scrub", "aria-label": "frame", style: { width: "420px" } });
  const play = el("button", { type: "button", class: "play" }, "Play");
  const readout = el("p", { class: "answer readout" });
  const about = el("p", { class: "note about" });
  const timeline = el("div", { class: "timeline-box", style: { overflowX: "auto" } });
  const traces = el("div", { class: "traces" });
  root.append(
    el("div", { class: "panel" },
      el("h2", {}, "Two frame rates over one window"),
      el("div", { class: "controls" }, el("label", {}, "model", model), el("label", {}, "video frames", length), centred, random),
      about, timeline, el("div", { class: "controls" }, play, scrub), readout),
    el("h2", {}, "Shapes at every stage, traced from the network (batch axis left out)"),
    el("p", { class: "note" },
      "The registered model built on PyTorch's meta device and run on one 224x224 clip; forward hooks on the stems, ",
      "the stages and every LateralConnection record what flows through. A lateral connection maps the Fast ",
      "features onto the Slow time axis (a time-strided convolution, stride α) and concatenates them to the Slow ones."),
    traces);

  let data = null;
  let seed = null;
  let timer = null;
  const stop = () => { clearInterval(timer); timer = null; play.textContent = "Play"; };

  function show(f) {
    if (!data) return;
    const frame = Math.max(0, Math.min(data.num_frames - 1, f));
    scrub.value = String(frame);
    drawTimeline(timeline, data, frame);
    const fi = data.fast.indexOf(frame), si = data.slow.indexOf(frame);
    readout.dataset.frame = String(frame);
    readout.dataset.fast = String(fi);
    readout.dataset.slow = String(si);
    readout.replaceChildren(`frame ${frame}: `,
      fi >= 0 ? el("span", { class: "label", style: { color: FAST } }, `Fast reads it (its frame ${fi + 1} of ${data.fast.length})`) : "Fast skips it",
      "; ",
      si >= 0 ? el("span", { class: "label", style: { color: SLOW } }, `Slow reads it (its frame ${si + 1} of ${data.slow.length})`) : "Slow skips it",
      ".");
  }

  let seq = 0;
  async function loadIndices() {
    const params = new URLSearchParams({ model: model.value || "slowfast_r50_4x16", num_frames: length.value });
    if (seed !== null) params.set("seed", String(seed));
    const mine = ++seq;
    let answer;
    try {
      answer = await api.get(`slowfast/indices?${params}`);
    } catch (e) {
      if (mine === seq) showError(root, e.message);
      return;
    }
    if (mine !== seq) return;
    clearError(root);
    data = answer;
    about.dataset.alpha = String(data.alpha);
    about.textContent = `${data.about}: the Slow pathway reads one frame in τ = ${data.tau} (${data.slow_frames} frames), ` +
      `the Fast pathway one in τ/α = ${data.fast_stride} (${data.fast.length} frames), over the same ${data.window}-frame span, ` +
      (data.seed === null ? "centred (test)." : `from a random start (training, seed ${data.seed}).`);
    scrub.max = String(data.num_frames - 1);
    show(Number(scrub.value));
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }

  let traceSeq = 0;
  async function loadTrace() {
    const mine = ++traceSeq;
    let answer;
    try {
      answer = await api.get(`slowfast/trace?model=${encodeURIComponent(model.value || "slowfast_r50_4x16")}`);
    } catch (e) {
      if (mine === traceSeq) showError(root, e.message);
      return;
    }
    if (mine !== traceSeq) return;
    if (!model.options.length) {
      for (const [name, text] of Object.entries(answer.models)) model.append(el("option", { value: name }, text));
      model.value = answer.model;
    }
    traces.dataset.model = answer.model;
    traces.replaceChildren(el("div", { class: "row" }, ...answer.traces.map(traceTable)));
  }

  play.addEventListener("click", () => {
    if (timer) return stop();
    play.textContent = "Pause";
    timer = setInterval(() => show((Number(scrub.value) + 1) % data.num_frames), 150);
  });
  scrub.addEventListener("input", () => { stop(); show(Number(scrub.value)); });
  model.addEventListener("change", () => { loadIndices(); loadTrace(); });
  length.addEventListener("change", loadIndices);
  random.addEventListener("click", () => { seed = Math.floor(Math.random() * 2 ** 31); loadIndices(); });
  centred.addEventListener("click", () => { seed = null; loadIndices(); });
  await loadTrace();
  await loadIndices();
  root.dataset.ready = "1";
  return stop;
}
