// Page 3, "Two-stream fusion": a slider for the RGB weight w over real Kinetics-400 scores of an RGB and an
// optical-flow network (GET /api/fusion/scores, /api/fusion/at), and a real clip's optical flow beside its frames
// (GET /api/fusion/flow and its images).

import { el, showError, clearError, lineChart, barChart, framePlayer, drawFrames, fmt, pct } from "../lib.js";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function sweepChart(box, scores, w) {
  const xs = scores.sweep.map((p) => p.w);
  box.replaceChildren();
  lineChart(box, {
    title: "accuracy of w · RGB + (1 − w) · flow (the sweep of vidact fuse)",
    series: [
      { name: "top-1", x: xs, y: scores.sweep.map((p) => p.top1), points: true },
      { name: "top-5", x: xs, y: scores.sweep.map((p) => p.top5), dashed: true },
    ],
    xLabel: "w (RGB weight): 0 = flow alone, 1 = RGB alone", yLabel: "accuracy", xRange: [0, 1],
    markers: [{ x: w, label: `w = ${fmt(w, 2)}` }], width: 620, height: 260, yFormat: (t) => pct(t, 0),
  });
}

export async function render(root, api) {
  // ---------------------------------------------------------------- fusion
  const slider = el("input", { type: "range", min: 0, max: 1, step: 0.01, value: 0.5, class: "weight", "aria-label": "RGB weight w" });
  const wText = el("span", { class: "w-value mono" }, "w = 0.50");
  const videoSelect = el("select", { class: "video", "aria-label": "video" });
  const current = el("dl", { class: "kv current" });
  const streams = el("dl", { class: "kv streams" });
  const chart = el("div", { class: "sweep" });
  const answer = el("p", { class: "answer" });
  const bars = el("div", { class: "video-top" });
  const table = el("table", { class: "video-table" });
  root.append(
    el("div", { class: "panel" },
      el("h2", {}, "Late fusion of two streams"),
      el("p", { class: "note" },
        "Real scores of an RGB network and an optical-flow network on 100 Kinetics-400 validation videos ",
        "(fusion/rgb.pkl, flow.pkl). Each stream's scores are probabilities; the fused score of a class is ",
        "w × RGB + (1 − w) × flow."),
      el("div", { class: "controls" }, el("label", {}, "RGB weight", slider), wText),
      el("div", { class: "row" }, el("div", {}, streams, current), chart)),
    el("div", { class: "panel" },
      el("h2", {}, "One video's fused confidence"),
      el("div", { class: "controls" }, el("label", {}, "video", videoSelect)),
      answer, el("div", { class: "row" }, bars, table)),
  );

  let scores;
  try {
    scores = await api.get("fusion/scores");
  } catch (e) {
    showError(root, e.message);
    root.dataset.ready = "1";
    return;
  }
  streams.append(
    el("dt", {}, "RGB alone (w = 1)"), el("dd", { class: "rgb-top1", "data-value": scores.streams.rgb.top1 }, `top-1 ${pct(scores.streams.rgb.top1)}, top-5 ${pct(scores.streams.rgb.top5)}`),
    el("dt", {}, "flow alone (w = 0)"), el("dd", { class: "flow-top1", "data-value": scores.streams.flow.top1 }, `top-1 ${pct(scores.streams.flow.top1)}, top-5 ${pct(scores.streams.flow.top5)}`),
    el("dt", {}, "best w of the sweep"), el("dd", { class: "best", "data-w": scores.best.w }, `${fmt(scores.best.w, 2)}: top-1 ${pct(scores.best.top1)}`),
  );
  for (const v of scores.videos) {
    videoSelect.append(el("option", { value: v.index }, `${v.index}: ${v.name} (${v.id})`));
  }

  let seq = 0;
  async function update() {
    const w = Number(slider.value);
    const video = Number(videoSelect.value || 0);
    wText.textContent = `w = ${w.toFixed(2)}`;
    const mine = ++seq;
    let at;
    try {
      at = await api.get(`fusion/at?w=${w}&video=${video}`);
    } catch (e) {
      showError(root, e.message);
      return;
    }
    if (mine !== seq) return; // a later move of the slider answers instead
    clearError(root);
    current.replaceChildren(
      el("dt", {}, "fused, this w"),
      el("dd", { class: "current-top1", "data-w": at.w, "data-value": at.top1 }, `top-1 ${pct(at.top1)}`),
      el("dt", {}, ""),
      el("dd", { class: "current-top5", "data-value": at.top5 }, `top-5 ${pct(at.top5)}`),
    );
    sweepChart(chart, scores, at.w);
    const v = at.video;
    answer.className = `answer ${v.correct ? "right" : "wrong"}`;
    answer.dataset.predicted = String(v.predicted);
    answer.replaceChildren("true class: ", el("span", { class: "label" }, v.name), " · fused prediction: ",
      el("span", { class: "label predicted" }, v.predicted_name), v.correct ? " (right)" : " (wrong)");
    bars.replaceChildren();
    barChart(bars, {
      title: `fused score of the top ${v.top.length} classes`, labels: v.top.map((c) => c.name),
      values: v.top.map((c) => c.fused), highlight: v.top.findIndex((c) => c.index === v.label),
      width: 520, height: 240, yRange: [0, 1],
    });
    table.replaceChildren(
      el("tr", {}, el("th", {}, "class"), el("th", { class: "num" }, "RGB"), el("th", { class: "num" }, "flow"), el("th", { class: "num" }, "fused")),
      ...v.top.map((c) => el("tr", { class: "class-row", "data-index": c.index, "data-fused": c.fused },
        el("td", {}, c.index === v.label ? el("strong", {}, c.name) : c.name),
        el("td", { class: "num" }, fmt(c.rgb, 3)), el("td", { class: "num" }, fmt(c.flow, 3)), el("td", { class: "num" }, fmt(c.fused, 3)))));
    root.dataset.w = String(at.w);
    root.dataset.video = String(v.index);
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }
  const later = debounce(update, 60);
  slider.addEventListener("input", () => {
    wText.textContent = `w = ${Number(slider.value).toFixed(2)}`;
    later();
  });
  videoSelect.addEventListener("change", update);
  await update();

  // ---------------------------------------------------------------- flow
  const clipSelect = el("select", { class: "clip", "aria-label": "clip" });
  const flowBox = el("div", { class: "row flow-view" });
  const flowInfo = el("p", { class: "note flow-info" });
  const magnitude = el("div", { class: "magnitude" });
  root.append(el("div", { class: "panel flow" },
    el("h2", {}, "The second stream's input: optical flow"),
    el("p", { class: "note" },
      "Flow between consecutive frames of a real clip, computed by vidact's flow extractor (vidact.flow) on the ",
      "clip's first frames; the colour is the direction, the saturation the speed (the key on the right)."),
    el("div", { class: "controls" }, el("label", {}, "clip", clipSelect)),
    flowInfo, flowBox, magnitude));

  let player = null;
  async function loadFlow(clip) {
    if (player) player.destroy();
    flowBox.replaceChildren(el("p", { class: "note" }, "computing the flow…"));
    let flow;
    try {
      flow = await api.get(`fusion/flow?clip=${encodeURIComponent(clip)}`);
    } catch (e) {
      flowBox.replaceChildren();
      showError(root, e.message);
      return;
    }
    if (!clipSelect.options.length) {
      for (const [name, title] of Object.entries(flow.clips)) clipSelect.append(el("option", { value: name }, title));
      clipSelect.value = flow.clip;
    }
    const q = `clip=${encodeURIComponent(flow.clip)}`;
    const frames = Array.from({ length: flow.pairs }, (_, i) => `/api/fusion/flow/frame/${i}?${q}`);
    const fields = Array.from({ length: flow.pairs }, (_, i) => `/api/fusion/flow/field/${i}?${q}`);
    flowInfo.textContent = `${flow.title}: ${flow.frames} frames at ${flow.width}x${flow.height}, method ${flow.method}; ` +
      `fully saturated at ${fmt(flow.scale, 2)} px per frame (99 % of the clip's motion is slower; the fastest ` +
      `${fmt(flow.max_magnitude, 2)} px).`;
    const flowCanvas = el("canvas", { class: "frames flow-field", width: 256, height: Math.round((256 * flow.height) / flow.width) });
    const meanText = el("span", { class: "pair-magnitude mono" });
    const right = el("figure", { class: "player" }, flowCanvas, el("figcaption", {}, "flow, frame i → i + 1 ", meanText));
    const wheel = el("figure", { class: "player" }, el("img", { src: "/api/fusion/flow/wheel?size=96", alt: "colour key", width: 96, height: 96 }), el("figcaption", {}, "key"));
    flowBox.replaceChildren();
    player = framePlayer(flowBox, frames, {
      width: 256, height: Math.round((256 * flow.height) / flow.width), fps: 6, label: "frame i",
      onFrame: async (i) => {
        await drawFrames(flowCanvas, fields, i);
        meanText.textContent = `(mean ${fmt(flow.mean_magnitude[i], 2)} px)`;
        flowBox.dataset.pair = String(i);
      },
    });
    player.el.classList.add("flow-frames");
    flowBox.append(right, wheel);
    flowBox.dataset.clip = flow.clip;
    flowBox.dataset.pairs = String(flow.pairs);
    magnitude.replaceChildren();
    lineChart(magnitude, {
      title: "mean motion per frame pair (pixels)", width: 620, height: 200, xLabel: "frame pair i → i + 1",
      series: [{ name: "mean |flow|", x: flow.mean_magnitude.map((_, i) => i), y: flow.mean_magnitude }],
    });
  }
  clipSelect.addEventListener("change", () => loadFlow(clipSelect.value));
  await loadFlow("cricket");
  root.dataset.ready = "1";
  return () => { if (player) player.destroy(); };
}
