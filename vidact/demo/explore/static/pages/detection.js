// Page 7, "Temporal detection": Detect runs `vidact detect`'s function on a long video (a job); its segments are
// drawn on the video's timeline, coloured by score, under the ground truth, each one matched as the evaluation
// matches it at the page's tIoU threshold (api: /api/detection/options, /video, /detect -> a job, /match).

import { clearError, colorOf, el, fmt, progressBar, showError, svg } from "../lib.js";

const WIDTH = 960;
const LEFT = 112;
const RIGHT = 16;
const THUMB_ROW = 46;
const GT_ROW = 28;
const LANE = 22;
const MAX_LANES = 10;
const DEFAULT_SHOWN = 25; // after Detect, the score threshold starts where about this many segments remain
const TP = "#15803d";
const FP = "#b91c1c";

const pretty = (name) => String(name).replaceAll("_", " ");
const three = (x) => (x === null || x === undefined ? "–" : Number(x).toFixed(3));

/** A score in [0, 1] as a colour from pale to deep blue. */
function scoreColor(score) {
  const s = Math.max(0, Math.min(1, Number(score) || 0));
  const lo = [219, 234, 254], hi = [30, 58, 138];
  const c = lo.map((v, i) => Math.round(v + (hi[i] - v) * s));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Segments sorted by score, packed into lanes where they do not overlap (the last lane takes the rest). */
function lanes(segments) {
  const ends = [];
  const out = new Map();
  for (const s of segments) {
    let lane = ends.findIndex((end) => end <= s.start);
    if (lane < 0) lane = ends.length < MAX_LANES ? ends.length : MAX_LANES - 1;
    ends[lane] = Math.max(ends[lane] ?? 0, s.end);
    out.set(s.index, lane);
  }
  return { lane: out, count: Math.max(1, ends.length) };
}

function ticks(duration) {
  const raw = duration / 8;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = 0; t <= duration + 1e-9; t += step) out.push(+t.toPrecision(10));
  return out;
}

export async function render(root, api) {
  const opts = await api.get("detection/options");
  if (!opts.runs.length) {
    root.append(
      el("p", { class: "det-missing" }, opts.message),
      el("pre", { class: "det-commands panel" }, opts.commands.join("\n")));
    root.dataset.ready = "1";
    return;
  }

  const runSelect = el("select", { class: "det-run-select", "aria-label": "detection run" },
    ...opts.runs.map((r) => el("option", { value: r.key }, `${r.key} (${r.detector} on ${r.features_model ?? "?"})`)));
  const videoSelect = el("select", { class: "det-video", "aria-label": "video" });
  const detectButton = el("button", { type: "button", class: "primary det-run" }, "Detect");
  const tiouInput = el("input", { type: "range", class: "det-tiou", min: 0.3, max: 0.95, step: 0.05, value: 0.5, "aria-label": "tIoU threshold" });
  const tiouText = el("span", { class: "mono det-tiou-value" }, "0.50");
  const scoreInput = el("input", { type: "range", class: "det-score", min: 0, max: 1, step: 0.001, value: 0, "aria-label": "score threshold" });
  const scoreText = el("span", { class: "mono det-score-value" }, "0.000");
  const about = el("p", { class: "note det-about" });
  const jobBox = el("div", { class: "det-job" });
  const chart = el("div", { class: "panel det-chart", style: { overflowX: "auto" } });
  const summary = el("p", { class: "det-summary" });
  const details = el("div", { class: "panel det-details" }, el("p", { class: "note" }, "Point at a detection (click to keep it) to see its match."));
  const table = el("div", { class: "det-table", style: { overflow: "auto", maxHeight: "360px" } });

  root.append(
    el("div", { class: "controls" },
      opts.runs.length > 1 ? el("label", {}, "run", runSelect) : null,
      el("label", {}, "video", videoSelect), detectButton),
    el("div", { class: "controls" },
      el("label", {}, "tIoU threshold", tiouInput, tiouText),
      el("label", {}, "score at least", scoreInput, scoreText)),
    about, jobBox, chart, summary, details, table);

  let video = null; // GET /video
  let result = null; // the detection job's result
  let matched = null; // GET /match
  let running = null;
  let pinned = null;
  let seq = 0;
  let detectSeq = 0; // bumped when the video changes: a detection of the previous one is forgotten
  let timer = null;

  const currentRun = () => opts.runs.find((r) => r.key === runSelect.value) || opts.runs[0];

  function fillVideos() {
    const run = currentRun();
    const groups = new Map();
    for (const v of run.videos) {
      const subset = v.subset || "videos";
      if (!groups.has(subset)) groups.set(subset, []);
      groups.get(subset).push(v);
    }
    videoSelect.replaceChildren(...[...groups].map(([subset, vs]) => el("optgroup", { label: subset },
      ...vs.map((v) => el("option", { value: v.key }, `${v.key} (${fmt(v.duration, 1)} s, ${v.segments} actions)`)))));
    about.textContent = `${run.detector} (run ${run.key}) on the features of ${run.features_model ?? "a model that is not here"}; ` +
      `ground truth ${run.annotations ?? "not found"}. Matching as the evaluation does: per class, from the highest ` +
      "score down, each detection takes the free ground truth it overlaps most, if that tIoU reaches the threshold.";
    detectButton.disabled = Boolean(run.problem);
    if (run.problem) showError(root, run.problem);
    else clearError(root);
  }

  async function loadVideo() {
    detectSeq += 1;
    if (running) running.cancel();
    running = null;
    jobBox.replaceChildren();
    detectButton.disabled = Boolean(currentRun().problem);
    result = null;
    matched = null;
    pinned = null;
    delete root.dataset.job;
    const run = currentRun();
    if (!run.videos.length) { chart.replaceChildren(); root.dataset.ready = "1"; return; }
    try {
      video = await api.get(`detection/video?run=${encodeURIComponent(run.key)}&video=${encodeURIComponent(videoSelect.value)}`);
      if (!run.problem) clearError(root);
    } catch (e) {
      showError(root, e.message);
    }
    draw();
    root.dataset.ready = "1";
  }

  async function detect() {
    clearError(root);
    if (running) running.cancel();
    const mine = ++detectSeq;
    jobBox.replaceChildren();
    let job = null;
    const bar = progressBar(jobBox, { label: "detecting", onCancel: () => job && job.cancel() });
    detectButton.disabled = true;
    try {
      const started = await api.post("detection/detect", { run: currentRun().key, video: videoSelect.value });
      if (mine !== detectSeq) { api.del(`/api/jobs/${encodeURIComponent(started.job)}`).catch(() => null); return; }
      job = api.job(started.job, (f, m) => bar.set(f, m));
      running = job;
      const found = await job;
      if (mine !== detectSeq) return;
      result = found;
      root.dataset.job = started.job;
      const scores = result.segments.map((s) => s.score).sort((a, b) => b - a);
      const start = scores.length > DEFAULT_SHOWN ? Math.floor(scores[DEFAULT_SHOWN - 1] * 1000) / 1000 : 0;
      scoreInput.value = String(start);
      scoreText.textContent = Number(scoreInput.value).toFixed(3);
      pinned = null;
      await loadMatches();
    } catch (e) {
      if (mine === detectSeq && !e.stopped) showError(root, e.cancelled ? "cancelled" : e.message);
    } finally {
      bar.remove();
      if (mine === detectSeq) {
        detectButton.disabled = Boolean(currentRun().problem);
        running = null;
      }
    }
  }

  async function loadMatches() {
    if (!result || !root.dataset.job) return;
    const mine = ++seq;
    const params = new URLSearchParams({ job: root.dataset.job, tiou: tiouInput.value, min_score: scoreInput.value });
    try {
      const data = await api.get(`detection/match?${params}`);
      if (mine !== seq) return; // a later change answers instead
      clearError(root);
      matched = data;
      draw();
      root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    } catch (e) {
      if (mine === seq) showError(root, e.message);
    }
  }

  function later() {
    tiouText.textContent = Number(tiouInput.value).toFixed(2);
    scoreText.textContent = Number(scoreInput.value).toFixed(3);
    clearTimeout(timer);
    timer = setTimeout(loadMatches, 120);
  }

  // ------------------------------------------------------------------ drawing
  function draw() {
    chart.replaceChildren();
    table.replaceChildren();
    summary.replaceChildren();
    if (!video) return;
    const duration = video.duration || 1;
    const x = (t) => LEFT + (t / duration) * (WIDTH - LEFT - RIGHT);
    const classes = video.classes;
    const byIndex = new Map((result ? result.segments : []).map((s) => [s.index, s]));
    const matchOf = new Map((matched ? matched.matches : []).map((m) => [m.detection, m]));
    const shown = matched ? [...matchOf.keys()].map((i) => byIndex.get(i)).sort((a, b) => b.score - a.score) : [];
    const packed = lanes(shown);
    const gtTop = THUMB_ROW + 8;
    const laneTop = gtTop + GT_ROW + 10;
    const bottom = laneTop + (matched ? packed.count * LANE : 0);
    const height = bottom + 34;
    const root_ = svg("svg", {
      class: "chart det-timeline", width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`,
      "data-duration": duration, "aria-label": "detections against the ground truth",
    });

    // frames along the timeline
    root_.append(svg("text", { class: "track-name", x: 4, y: THUMB_ROW / 2 + 4 }, "frames"));
    const thumbWidth = (WIDTH - LEFT - RIGHT) / Math.max(1, video.thumbnails.length);
    video.thumbnails.forEach((th, i) => {
      root_.append(svg("image", {
        class: "thumb", href: th.image, x: LEFT + i * thumbWidth, y: 2, width: thumbWidth - 1, height: THUMB_ROW - 4,
        preserveAspectRatio: "xMidYMid slice", "data-t": th.t,
      }, svg("title", {}, `${fmt(th.t, 2)} s`)));
    });

    // grid and axis
    for (const t of ticks(duration)) {
      root_.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: gtTop, y2: bottom + 4 }));
      root_.append(svg("text", { class: "tick", x: x(t), y: bottom + 18, "text-anchor": "middle" }, fmt(t, 1)));
    }
    root_.append(svg("text", { class: "axis-label", x: (LEFT + WIDTH - RIGHT) / 2, y: height - 2, "text-anchor": "middle" }, "seconds"));

    // the ground truth
    const found = new Set((matched ? matched.matches : []).filter((m) => m.gt !== null).map((m) => m.gt));
    root_.append(svg("text", { class: "track-name", x: 4, y: gtTop + GT_ROW / 2 + 4 }, "ground truth"));
    root_.append(svg("rect", { class: "track", x: LEFT, y: gtTop, width: WIDTH - LEFT - RIGHT, height: GT_ROW }));
    const gtCentre = new Map();
    for (const g of video.ground_truth) {
      const w = Math.max(2, x(g.end) - x(g.start));
      const hit = found.has(g.index);
      gtCentre.set(g.index, x(g.start) + w / 2);
      root_.append(svg("rect", {
        class: hit ? "gt found" : "gt", x: x(g.start), y: gtTop + 3, width: w, height: GT_ROW - 6, rx: 3,
        fill: colorOf(Math.max(0, classes.indexOf(g.label))), stroke: hit ? TP : "none", "stroke-width": hit ? 2 : 0,
        "data-index": g.index, "data-start": g.start, "data-end": g.end, "data-label": g.label,
      }, svg("title", {}, `ground truth #${g.index}: ${pretty(g.label)} ${fmt(g.start, 2)}–${fmt(g.end, 2)} s${matched ? (hit ? " (found)" : " (missed)") : ""}`)));
      const text = `#${g.index} ${pretty(g.label)}`;
      const room = Math.floor((w - 6) / 6.5);
      if (room >= 2) root_.append(svg("text", { class: "segment-label", x: x(g.start) + 3, y: gtTop + GT_ROW / 2 + 4, "pointer-events": "none" }, text.length > room ? `${text.slice(0, Math.max(1, room - 1))}…` : text));
    }

    // the detections, lane by lane, with a line from each true positive to its ground truth
    if (matched) {
      root_.append(svg("text", { class: "track-name", x: 4, y: laneTop + 14 }, "detections"));
      for (const s of shown) {
        const m = matchOf.get(s.index);
        const lane = packed.lane.get(s.index);
        const y = laneTop + lane * LANE;
        const w = Math.max(2, x(s.end) - x(s.start));
        if (m.gt !== null && gtCentre.has(m.gt)) {
          root_.append(svg("line", {
            class: "det-link", x1: x(s.start) + w / 2, y1: y + 2, x2: gtCentre.get(m.gt), y2: gtTop + GT_ROW - 3,
            stroke: TP, "stroke-width": 1, "stroke-opacity": 0.45, "pointer-events": "none",
          }));
        }
        const rect = svg("rect", {
          class: `det ${m.true_positive ? "tp" : "fp"}${pinned === s.index ? " selected" : ""}`,
          x: x(s.start), y: y + 2, width: w, height: LANE - 4, rx: 2, fill: scoreColor(s.score),
          stroke: m.true_positive ? TP : FP, "stroke-width": pinned === s.index ? 3 : 1.5,
          "stroke-dasharray": m.true_positive ? null : "4 2", style: { cursor: "pointer" },
          "data-index": s.index, "data-start": s.start, "data-end": s.end, "data-label": s.label,
          "data-score": s.score, "data-gt": m.gt ?? "", "data-tiou": m.tiou ?? "", "data-rank": m.rank,
        }, svg("title", {}, `${pretty(s.label)} ${fmt(s.start, 2)}–${fmt(s.end, 2)} s, score ${three(s.score)}, ` +
          (m.true_positive ? `matches ground truth #${m.gt} at tIoU ${three(m.tiou)}` : "a false positive")));
        rect.addEventListener("mouseenter", () => showDetails(s.index));
        rect.addEventListener("mouseleave", () => showDetails(pinned));
        rect.addEventListener("click", () => { pinned = pinned === s.index ? null : s.index; draw(); });
        root_.append(rect);
        if (w > 30) {
          root_.append(svg("text", {
            class: "det-score-label", x: x(s.start) + 3, y: y + LANE / 2 + 4, "font-size": 10, "pointer-events": "none",
            fill: s.score > 0.5 ? "white" : "#0f172a",
          }, three(s.score).slice(0, 4)));
        }
      }
    }
    chart.append(root_, legend());
    if (matched) {
      drawSummary();
      drawTable(shown, matchOf);
    }
    showDetails(pinned);
  }

  function legend() {
    const stops = [0, 0.25, 0.5, 0.75, 1];
    return el("ul", { class: "legend" },
      el("li", {}, "score ", ...stops.map((s) => el("span", { class: "swatch", style: { background: scoreColor(s), borderColor: scoreColor(s), width: "14px", height: "10px" }, title: String(s) })), " 0 → 1"),
      el("li", {}, el("span", { class: "swatch", style: { borderColor: TP, background: "white", height: "10px" } }), "true positive (a line to its ground truth)"),
      el("li", {}, el("span", { class: "swatch", style: { borderColor: FP, borderStyle: "dashed", background: "white", height: "10px" } }), "false positive"),
      el("li", {}, "ground truth coloured by class; outlined green when found"));
  }

  function drawSummary() {
    const m = matched;
    const ap = m.mAP === null ? "no ground truth in this video" : `AP ${three(m.mAP)} on this video at this threshold (evaluate_detection, mean over its classes)`;
    summary.dataset.tp = String(m.true_positives);
    summary.dataset.fp = String(m.false_positives);
    summary.dataset.found = String(m.found);
    summary.replaceChildren(
      `tIoU ≥ ${Number(m.tiou).toFixed(2)}: `, el("strong", {}, `${m.true_positives} true positives`), `, ${m.false_positives} false positives `,
      `among the ${m.shown} detections scored ≥ ${Number(m.min_score).toFixed(3)} (of ${result.segments.length}); `,
      `${m.found} of ${m.ground_truth} ground-truth actions found; ${ap}. `,
      el("span", { class: "note" }, `${result.detector} on ${result.feature_steps} feature steps of ${fmt(result.step_seconds, 3)} s; `,
        `features ${fmt(result.seconds.features, 2)} s, detector ${fmt(result.seconds.detector, 2)} s.`));
  }

  function drawTable(shown, matchOf) {
    const rows = shown.map((s) => {
      const m = matchOf.get(s.index);
      return el("tr", { "data-index": s.index, class: m.true_positive ? "tp" : "fp" },
        el("td", { class: "num" }, String(s.index + 1)), el("td", { class: "num" }, fmt(s.start, 2)), el("td", { class: "num" }, fmt(s.end, 2)),
        el("td", {}, pretty(s.label)), el("td", { class: "num" }, three(s.score)),
        el("td", { style: { color: m.true_positive ? TP : FP } }, m.true_positive ? `#${m.gt}` : "none"),
        el("td", { class: "num", "data-field": "tiou" }, three(m.tiou)));
    });
    table.append(el("table", {},
      el("thead", {}, el("tr", {}, ...["#", "start (s)", "end (s)", "label", "score", "ground truth", "tIoU"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)));
  }

  function showDetails(index) {
    if (index === null || index === undefined || !matched || !result) {
      details.removeAttribute("data-index");
      details.replaceChildren(el("p", { class: "note" }, matched ? "Point at a detection (click to keep it) to see its match." : "Press Detect."));
      return;
    }
    const s = result.segments[index];
    const m = matched.matches.find((x) => x.detection === index);
    if (!s || !m) return showDetails(null);
    const gtOf = (i) => video.ground_truth[i];
    let match;
    let why = "";
    if (m.true_positive) {
      const g = gtOf(m.gt);
      match = `#${m.gt} ${pretty(g.label)} ${fmt(g.start, 2)}–${fmt(g.end, 2)} s`;
      why = "the match";
    } else {
      match = "none: a false positive";
      if (m.best_gt === null) why = `no ground truth of ${pretty(s.label)} here`;
      else if (m.tiou !== null && m.tiou < matched.tiou) why = `best overlap, with #${m.best_gt}, below ${Number(matched.tiou).toFixed(2)}`;
      else why = `best overlap, with #${m.best_gt}, taken by a higher-scored detection`;
    }
    const field = (name, label, value) => [el("dt", {}, label), el("dd", { "data-field": name }, value)];
    details.dataset.index = String(index);
    details.replaceChildren(el("dl", { class: "kv" },
      ...field("start", "start", `${fmt(s.start, 3)} s`),
      ...field("end", "end", `${fmt(s.end, 3)} s`),
      ...field("label", "label", pretty(s.label)),
      ...field("score", "score", three(s.score)),
      ...field("rank", "rank in its class", String(m.rank + 1)),
      ...field("gt", "matched ground truth", match),
      ...field("tiou", "tIoU", `${m.tiou === null ? "0/0 (zero length)" : three(m.tiou)} (${why})`)));
  }

  runSelect.addEventListener("change", () => { fillVideos(); loadVideo(); });
  videoSelect.addEventListener("change", loadVideo);
  detectButton.addEventListener("click", detect);
  tiouInput.addEventListener("input", later);
  scoreInput.addEventListener("input", later);
  fillVideos();
  await loadVideo();
  return () => { clearTimeout(timer); if (running) running.cancel(); };
}
