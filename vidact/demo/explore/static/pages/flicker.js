// Page 2, "Flicker": a per-frame model's belief in two classes, frame by frame, next to the clip-level answers
// (api: /api/flicker/options, /classes, /run -> a job).

import { clearError, colorOf, el, fmt, lineChart, progressBar, showError } from "../lib.js";

const pretty = (name) => String(name).replaceAll("_", " ");

export async function render(root, api) {
  const opts = await api.get("flicker/options");
  let running = null;
  let uploaded = null;

  const source = el("select", { class: "fl-source", "aria-label": "source" },
    el("option", { value: "synthetic" }, "a synthetic clip (time-reversed pair)"),
    opts.shared.length ? el("option", { value: "shared" }, "a real clip (shared data)") : null,
    el("option", { value: "upload" }, "your video"));
  const pair = el("select", { class: "fl-pair", "aria-label": "pair" }, ...opts.pairs.map((p) => el("option", { value: p }, p)));
  const index = el("input", { type: "number", class: "fl-index", min: 0, max: 999, value: 0, "aria-label": "clip" });
  const reverse = el("input", { type: "checkbox", class: "fl-reverse" });
  const shared = el("select", { class: "fl-shared", "aria-label": "clip" }, ...opts.shared.map((s) => el("option", { value: s }, s)));
  const file = el("input", { type: "file", class: "fl-file", accept: "video/*,image/gif" });
  const uploadNote = el("span", { class: "note fl-upload-note" });
  const model = el("select", { class: "fl-model", "aria-label": "model" }, ...opts.models.map((m) => el("option", { value: m.key }, m.label)));
  const classA = el("select", { class: "fl-class", "aria-label": "first class" });
  const classB = el("select", { class: "fl-class", "aria-label": "second class" });
  const runButton = el("button", { type: "button", class: "primary fl-run" }, "Score");
  const synthBox = el("span", { class: "controls fl-synthetic" }, el("label", {}, "pair", pair), el("label", {}, "clip", index), el("label", {}, reverse, "played backwards"));
  const sharedBox = el("span", { class: "controls fl-shared-box" }, shared);
  const uploadBox = el("span", { class: "controls fl-upload-box" }, file, uploadNote);
  const jobBox = el("div", { class: "fl-job" });
  const out = el("div", { class: "fl-out" });

  root.append(
    el("div", { class: "controls" }, el("label", {}, "video", source), synthBox, sharedBox, uploadBox),
    el("div", { class: "controls" }, el("label", {}, "model", model), el("label", {}, "classes", classA, classB), runButton),
    jobBox, out);

  if (!opts.models.length) {
    showError(root, "no per-frame model with weights here");
    return;
  }
  if (opts.demo) {
    model.value = "demo";
  } else if (opts.shared.length) {
    source.value = "shared";
    const tai = opts.shared.find((s) => s.startsWith("kinetics/"));
    if (tai) shared.value = tai;
  }

  function showSource() {
    synthBox.hidden = source.value !== "synthetic";
    sharedBox.hidden = source.value !== "shared";
    uploadBox.hidden = source.value !== "upload";
  }

  async function loadClasses() {
    const { classes } = await api.get(`flicker/classes?model=${encodeURIComponent(model.value)}`);
    const auto = el("option", { value: "" }, "(the model's top two)");
    classA.replaceChildren(auto, ...classes.map((c) => el("option", { value: c }, pretty(c))));
    classB.replaceChildren(auto.cloneNode(true), ...classes.map((c) => el("option", { value: c }, pretty(c))));
  }

  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    clearError(root);
    uploaded = null;
    uploadNote.textContent = "uploading…";
    try {
      uploaded = await api.upload(file.files[0], (f) => { uploadNote.textContent = `uploading… ${Math.round(100 * f)} %`; });
      uploadNote.textContent = `${uploaded.name}: ${fmt(uploaded.info.duration, 1)} s, ${uploaded.info.width}×${uploaded.info.height}`;
      await run();
    } catch (e) {
      uploadNote.textContent = "";
      showError(root, e.message);
    }
  });

  function request() {
    const body = { model: model.value, source: source.value };
    if (source.value === "synthetic") Object.assign(body, { pair: pair.value, index: Number(index.value) || 0, reverse: reverse.checked });
    if (source.value === "shared") body.shared = shared.value;
    if (source.value === "upload") {
      if (!uploaded) throw new Error("choose a video file first");
      body.upload = uploaded.id;
    }
    if (classA.value && classB.value) body.classes = classA.value === classB.value ? [classA.value] : [classA.value, classB.value];
    return body;
  }

  async function run() {
    clearError(root);
    if (running) running.cancel();
    let body;
    try { body = request(); } catch (e) { showError(root, e.message); return; }
    jobBox.replaceChildren();
    let job = null;
    const bar = progressBar(jobBox, { label: "scoring", onCancel: () => job && job.cancel() });
    runButton.disabled = true;
    try {
      job = api.startJob("flicker/run", body, (f, m) => bar.set(f, m));
      running = job;
      const result = await (await job);
      draw(result);
    } catch (e) {
      showError(root, e.cancelled ? "cancelled" : e.message);
    } finally {
      bar.remove();
      runButton.disabled = false;
      running = null;
    }
  }

  function draw(r) {
    out.replaceChildren();
    const f = r.flicker;
    const [a, b] = r.classes;
    out.append(el("div", { class: "row fl-strip" }, ...r.strip.map((s) => el("figure", { class: "thumb" },
      el("img", { src: s.image, alt: `frame at ${s.t} s`, height: 72 }), el("figcaption", { class: "note" }, `${fmt(s.t, 2)} s`)))));
    const series = r.classes.map((c, i) => ({ name: `P(${pretty(c)}), each frame`, x: f.frame_times, y: f.frame_probs[c], color: colorOf(i), points: f.frame_times.length <= 64 }));
    r.classes.forEach((c, i) => {
      const xs = [0, r.video.duration];
      series.push({ name: `P(${pretty(c)}), whole clip (per-frame model)`, x: xs, y: [f.clip_probs[c], f.clip_probs[c]], color: colorOf(i), dashed: true });
      if (r.temporal) series.push({ name: `P(${pretty(c)}), temporal model`, x: xs, y: [r.temporal.clip_probs[c], r.temporal.clip_probs[c]], color: colorOf(i + 4) });
    });
    const chart = el("div", { class: "panel fl-chart" });
    out.append(chart);
    lineChart(chart, { series, xLabel: "time (s)", yLabel: "probability", yRange: [0, 1], xRange: [0, r.video.duration], width: 760, height: 300, legend: false });
    const legend = el("ul", { class: "legend fl-legend" }, ...series.map((s) => el("li", { "data-series": s.name },
      el("span", { class: s.dashed ? "swatch dashed" : "swatch", style: { background: s.color, borderColor: s.color } }), s.name)));
    chart.append(legend);
    const line = (who, numbers) => el("li", { "data-model": who, "data-top": numbers.top },
      `${who}: top answer `, el("strong", {}, pretty(numbers.top)), "; ",
      r.classes.map((c) => `P(${pretty(c)}) = ${fmt(numbers.clip_probs[c], 3)}`).join(", "));
    out.append(el("div", { class: "panel fl-summary", "data-scored": r.scored },
      el("p", {}, `${r.video.name}: ${fmt(r.video.duration, 2)} s at ${fmt(r.video.fps, 2)} fps (${r.video.num_frames} frames); `,
        `${r.model} scored ${r.scored} frames, one by one (windows of ${fmt(r.window, 3)} s).`),
      el("ul", {}, line("per-frame model (mean of its frames)", f), r.temporal ? line("temporal model (the frames in order)", r.temporal) : null),
      el("p", { class: "note" }, a && b ? `Each dot is one frame, judged alone: the belief in ${pretty(a)} vs ${pretty(b)} swings with the pose on screen.`
        : "Each dot is one frame, judged alone.")));
    root.dataset.model = r.model;
    root.dataset.classes = r.classes.join(",");
    root.dataset.ready = "1";
  }

  source.addEventListener("change", showSource);
  model.addEventListener("change", () => loadClasses().catch((e) => showError(root, e.message)));
  runButton.addEventListener("click", run);
  showSource();
  await loadClasses();
  await run();
  return () => { if (running) running.cancel(); };
}
