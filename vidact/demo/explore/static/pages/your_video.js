// Page 10, "Your video": upload a video (or pick a shared clip); its `vidact info`, how the default model samples
// it, and every model's answers over time (api: /api/uploads, /api/your_video/models, /analyse -> a job).

import { barChart, clearError, colorOf, el, fmt, progressBar, showError, timeline } from "../lib.js";

const INFO_ROWS = [
  ["container", (i) => i.container],
  ["codec", (i) => (i.pixel_format ? `${i.codec} (${i.pixel_format})` : i.codec)],
  ["resolution", (i) => `${i.width}×${i.height}`],
  ["fps", (i) => fmt(i.fps, 3)],
  ["frames (exact)", (i) => String(i.num_frames)],
  ["frames (estimated)", (i) => String(i.num_frames_estimated)],
  ["duration", (i) => `${fmt(i.duration, 3)} s`],
  ["rotation", (i) => `${i.rotation} deg`],
  ["keyframe interval", (i) => (i.keyframe_interval ? `${fmt(i.keyframe_interval, 1)} frames (${i.num_keyframes} keyframes)` : "–")],
  ["bit rate", (i) => (i.bit_rate ? `${Math.round(i.bit_rate / 1000)} kb/s` : "–")],
  ["audio", (i) => (i.audio_streams.length ? i.audio_streams.map((a) => `${a.codec} ${a.sample_rate} Hz ${a.channels} ch`).join(", ") : "none")],
];

export async function render(root, api) {
  const [{ models }, flickerOpts] = await Promise.all([api.get("your_video/models"), api.get("flicker/options").catch(() => ({ shared: [] }))]);
  let running = null;

  const file = el("input", { type: "file", class: "yv-file", accept: "video/*,image/gif" });
  const drop = el("label", { class: "drop yv-drop" }, "Drop a video here, or ", file);
  const shared = el("select", { class: "yv-shared", "aria-label": "shared clip" },
    el("option", { value: "" }, "(or one of the shared clips)"), ...flickerOpts.shared.map((s) => el("option", { value: s }, s)));
  const modelList = el("ul", { class: "yv-models" }, ...models.map((m) =>
    el("li", { "data-model": m.name }, el("label", {}, el("input", { type: "checkbox", checked: true, value: m.name }), ` ${m.name} `, el("span", { class: "note" }, `(${m.modality})`)))));
  const jobBox = el("div", { class: "yv-job" });
  const out = el("div", { class: "yv-out" });
  root.append(
    el("div", { class: "row" }, el("div", { class: "panel", style: { flex: "1 1 320px" } }, drop, el("p", {}, shared)),
      el("div", { class: "panel" }, el("h2", {}, `Models with real weights here (${models.length})`), modelList)),
    jobBox, out);

  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) uploadAndAnalyse(e.dataTransfer.files[0]);
  });
  file.addEventListener("change", () => file.files.length && uploadAndAnalyse(file.files[0]));
  shared.addEventListener("change", () => shared.value && analyse({ shared: shared.value }));

  const chosenModels = () => [...modelList.querySelectorAll("input:checked")].map((x) => x.value);

  async function uploadAndAnalyse(f) {
    clearError(root);
    jobBox.replaceChildren();
    const bar = progressBar(jobBox, { label: "uploading" });
    let up;
    try {
      up = await api.upload(f, (fraction) => bar.set(fraction, `${f.name}: ${Math.round(100 * fraction)} %`));
    } catch (e) {
      showError(root, e.message);
      return;
    } finally {
      bar.remove();
    }
    root.dataset.upload = up.id;
    await analyse({ upload: up.id });
  }

  async function analyse(video) {
    clearError(root);
    if (running) running.cancel();
    jobBox.replaceChildren();
    let job = null;
    const bar = progressBar(jobBox, { label: "analysing", onCancel: () => job && job.cancel() });
    try {
      job = api.startJob("your_video/analyse", { ...video, models: chosenModels() }, (f, m) => bar.set(f, m));
      running = job;
      draw(await job);
    } catch (e) {
      showError(root, e.cancelled ? "cancelled" : e.message);
    } finally {
      bar.remove();
      running = null;
    }
  }

  function draw(r) {
    out.replaceChildren();
    const info = r.info;
    out.append(el("div", { class: "panel yv-info" }, el("h2", {}, `vidact info: ${info.path}`),
      el("dl", { class: "kv" }, ...INFO_ROWS.flatMap(([k, f]) => [el("dt", {}, k), el("dd", { "data-field": k }, f(info))]))));
    if (r.sampling) {
      const s = r.sampling;
      const shown = s.windows.slice(0, 6);
      const panel = el("div", { class: "panel yv-sampling", "data-windows": s.num_windows });
      panel.append(el("h2", {}, `How ${s.model} samples it`), el("p", { class: "note" },
        `${s.num_windows} windows of ${fmt(s.window)} s, ${fmt(s.stride)} s apart; each window's clip takes ${s.clip_frames} frames `,
        s.sampling === "uniform" ? "spread evenly over the window (TSN)." : `every ${s.frame_stride}th frame, centred in the window.`,
        shown.length < s.num_windows ? ` The first ${shown.length} windows:` : ""));
      timeline(panel, {
        duration: info.duration, width: 860,
        tracks: [...(info.num_frames <= 600 ? [{ name: "frames", marks: Array.from({ length: info.num_frames }, (_, i) => (i * info.duration) / info.num_frames), color: "#cbd5e1" }] : []),
          ...shown.map((w, k) => ({ name: `window ${k + 1}`, color: colorOf(k), segments: [{ start: w.start, end: w.end, color: "#e2e8f0" }], marks: w.frames }))],
      });
      out.append(panel);
    }
    const preds = el("div", { class: "panel yv-predictions" }, el("h2", {}, "What each model says, over time"));
    const labels = new Map();
    const colorFor = (label) => { if (!labels.has(label)) labels.set(label, colorOf(labels.size)); return labels.get(label); };
    const tracks = r.predictions.map((p) => ({
      name: p.model,
      segments: p.timeline.filter((w) => w.top.length).map((w, k, all) => ({
        start: w.start, end: k + 1 < all.length ? Math.min(w.end, all[k + 1].start) : w.end,
        label: w.top[0].label, score: w.top[0].score, color: colorFor(w.top[0].label),
      })),
    }));
    if (tracks.length) timeline(preds, { duration: info.duration, tracks, width: 860, rowHeight: 30 });
    for (const p of r.predictions) {
      const box = el("div", { class: "yv-model", "data-model": p.model, "data-top": p.top.length ? p.top[0].label : "" },
        el("h3", {}, `${p.model} `, el("span", { class: "note" }, `(${p.modality}, ${fmt(p.seconds, 2)} s)`)));
      if (p.top.length) {
        barChart(box, { labels: p.top.map((t) => t.label), values: p.top.map((t) => t.score), yRange: [0, 1], yLabel: "probability", width: 640, height: 200, highlight: 0 });
      }
      if (p.note) box.append(el("p", { class: "note yv-note" }, p.note));
      preds.append(box);
    }
    for (const f of r.failures) preds.append(el("p", { class: "yv-failure", "data-model": f.model }, `${f.model}: `, el("span", { class: "note" }, f.error)));
    out.append(preds);
    root.dataset.analysed = info.path;
  }

  root.dataset.ready = "1";
  return () => { if (running) running.cancel(); };
}
