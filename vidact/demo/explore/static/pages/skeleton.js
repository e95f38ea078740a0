// Page 8, "Skeleton player": a real NTU RGB+D skeleton (GET /api/skeleton/ntu) and a pose extracted from a real
// clip (POST /api/skeleton/pose, a background job), drawn on canvas: joints, bones (the layout's parents) and
// temporal edges (each joint to itself in the frames before), with the skeleton models' answers.

import { el, showError, clearError, timeline, progressBar, fmt, pct, colorOf } from "../lib.js";

const PERSON_COLORS = ["#2563eb", "#dc2626"];

/**
 * Draw frame `t` of a skeleton: bones of each present person, joints, and the temporal edges of the last
 * `trail` frames (each joint linked to itself one frame earlier). `project(p) -> [x, y]` maps a joint to pixels;
 * `present(m, t)` says whether person m is there. Records what it drew in canvas.dataset.
 */
function drawSkeleton(canvas, sk, t, trail, project, present, background) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (background) {
    ctx.globalAlpha = 0.85;
    ctx.drawImage(background, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  } else {
    ctx.fillStyle = "#f8fafc";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  let bones = 0, joints = 0, temporal = 0;
  sk.keypoint.forEach((person, m) => {
    const color = PERSON_COLORS[m % PERSON_COLORS.length];
    // temporal edges: joint v at s - 1 -> joint v at s, for s in (t - trail, t]
    ctx.strokeStyle = color;
    ctx.lineWidth = 1;
    for (let s = Math.max(1, t - trail + 1); s <= t; s += 1) {
      if (!present(m, s) || !present(m, s - 1)) continue;
      ctx.globalAlpha = 0.15 + (0.5 * (s - (t - trail))) / Math.max(1, trail);
      for (let v = 0; v < person[s].length; v += 1) {
        const [x0, y0] = project(person[s - 1][v]);
        const [x1, y1] = project(person[s][v]);
        ctx.beginPath();
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
        ctx.stroke();
        temporal += 1;
      }
    }
    ctx.globalAlpha = 1;
    if (!present(m, t)) return;
    const frame = person[t];
    ctx.lineWidth = 3;
    ctx.strokeStyle = color;
    for (const [child, parent] of sk.edges) {
      const [x0, y0] = project(frame[child]);
      const [x1, y1] = project(frame[parent]);
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      bones += 1;
    }
    ctx.fillStyle = "#0f172a";
    for (const p of frame) {
      const [x, y] = project(p);
      ctx.beginPath();
      ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
      joints += 1;
    }
  });
  Object.assign(canvas.dataset, { frame: String(t), bones: String(bones), joints: String(joints), temporal: String(temporal) });
}

/** A player: canvas, Play/Pause, scrubber, trail length; `draw(t, trail)` draws a frame. */
function player(parent, count, draw, { fps = 15 } = {}) {
  const play = el("button", { type: "button", class: "play" }, "Play");
  const scrub = el("input", { type: "range", min: 0, max: count - 1, value: 0, class: "scrub", "aria-label": "frame", style: { width: "300px" } });
  const trail = el("input", { type: "number", name: "trail", value: 4, min: 0, max: 30, style: { width: "4em" } });
  const counter = el("span", { class: "frame-index" });
  parent.append(el("div", { class: "controls" }, play, scrub, counter, el("label", {}, "temporal edges over the last", trail, "frames")));
  let timer = null;
  const show = (t) => {
    scrub.value = String(t);
    counter.textContent = `${t + 1} / ${count}`;
    draw(t, Number(trail.value));
  };
  const stop = () => { clearInterval(timer); timer = null; play.textContent = "Play"; };
  play.addEventListener("click", () => {
    if (timer) return stop();
    play.textContent = "Pause";
    timer = setInterval(() => show((Number(scrub.value) + 1) % count), 1000 / fps);
  });
  scrub.addEventListener("input", () => { stop(); show(Number(scrub.value)); });
  trail.addEventListener("change", () => show(Number(scrub.value)));
  show(0);
  return { show, stop };
}

function topList(top, cls) {
  return el("ol", { class: `top ${cls}` }, ...top.map((c) => el("li", { "data-label": c.name ?? c.label },
    `${c.name ?? c.label} `, el("span", { class: "mono" }, pct(c.score)))));
}

export async function render(root, api) {
  const stops = [];
  // ---------------------------------------------------------------- the NTU sample
  const ntuPanel = el("div", { class: "panel ntu" }, el("h2", {}, "A real NTU RGB+D skeleton (Kinect, 3D)"));
  root.append(ntuPanel);
  let ntu;
  try {
    ntu = await api.get("skeleton/ntu");
  } catch (e) {
    showError(root, e.message);
    root.dataset.ready = "1";
    return;
  }
  const canvas = el("canvas", { class: "skeleton ntu-canvas", width: 360, height: 400 });
  const yaw = el("input", { type: "range", name: "yaw", min: -90, max: 90, value: 20, "aria-label": "turn", style: { width: "160px" } });
  ntuPanel.append(
    el("p", { class: "note" },
      `${ntu.source}: ${ntu.frames} frames, ${ntu.persons} person(s), ${ntu.joints.length} joints of layout ${ntu.layout}; `,
      "bones from the layout's parents, temporal edges link each joint to itself in the frame before (what ST-GCN's ",
      "graph adds across time)."),
    el("div", { class: "row" },
      el("div", {}, canvas, el("div", { class: "controls" }, el("label", {}, "turn", yaw))),
      el("div", { style: { flex: "1 1 280px", minWidth: "0" } },
        el("h2", {}, `${ntu.model} says`),
        el("p", { class: "note" }, `input ${ntu.input_shape.join(" x ")} (views, persons, frames, joints, xyz), made by the model's preset`),
        topList(ntu.top, "ntu-top"))));
  const controls = el("div", {});
  ntuPanel.append(controls);

  const bounds = (angle) => {
    const c = Math.cos(angle), s = Math.sin(angle);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const person of ntu.keypoint) for (const frame of person) for (const [x, y, z] of frame) {
      if (x === 0 && y === 0 && z === 0) continue;
      const u = x * c + z * s;
      x0 = Math.min(x0, u); x1 = Math.max(x1, u); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    return { x0, x1, y0, y1, c, s };
  };
  const presentNtu = (m, t) => ntu.keypoint[m][t].some((p) => p.some((v) => v !== 0));
  const drawNtu = (t, trail) => {
    const b = bounds((Number(yaw.value) * Math.PI) / 180);
    const scale = Math.min((canvas.width - 40) / (b.x1 - b.x0 || 1), (canvas.height - 40) / (b.y1 - b.y0 || 1));
    const project = ([x, y, z]) => [20 + (x * b.c + z * b.s - b.x0) * scale, canvas.height - 20 - (y - b.y0) * scale];
    drawSkeleton(canvas, ntu, t, trail, project, presentNtu, null);
  };
  const ntuPlayer = player(controls, ntu.frames, drawNtu);
  stops.push(ntuPlayer.stop);
  yaw.addEventListener("input", () => ntuPlayer.show(Number(controls.querySelector("input.scrub").value)));

  // ---------------------------------------------------------------- a pose from a real clip
  const posePanel = el("div", { class: "panel pose" }, el("h2", {}, "A pose extracted from a real clip (MediaPipe)"));
  root.append(posePanel);
  const clipSelect = el("select", { name: "clip", "aria-label": "clip" });
  const extract = el("button", { type: "button", class: "primary extract" }, "Extract the pose");
  const reason = el("p", { class: "note pose-reason" });
  const result = el("div", { class: "pose-result" });
  posePanel.append(el("div", { class: "controls" }, el("label", {}, "clip", clipSelect), extract), reason, result);
  try {
    const listing = await api.get("skeleton/clips");
    for (const c of listing.clips) {
      clipSelect.append(el("option", { value: c.name }, `${c.name}${c.truth ? ` (${c.truth})` : ""} → ${c.model}`));
    }
    clipSelect.value = listing.clips.some((c) => c.name === "asl/milk") ? "asl/milk" : listing.clips[0]?.name;
    posePanel.dataset.available = listing.pose.available ? "1" : "0";
    if (!listing.pose.available) {
      extract.disabled = true;
      reason.textContent = `No pose extraction here: ${listing.pose.reason}`;
    } else {
      reason.textContent = "Extraction runs in the background (a few seconds per hundred frames); it can be cancelled.";
    }
  } catch (e) {
    showError(root, e.message);
  }

  let job = null;
  let posePlayer = null;
  extract.addEventListener("click", async () => {
    if (posePlayer) posePlayer.stop();
    extract.disabled = true;
    clearError(root);
    result.replaceChildren();
    delete posePanel.dataset.clip;
    const bar = progressBar(result, { label: "pose", onCancel: () => job && job.cancel() });
    job = api.startJob("skeleton/pose", { clip: clipSelect.value }, (fraction, message) => bar.set(fraction, message));
    let pose;
    try {
      pose = await job;
    } catch (e) {
      bar.remove();
      extract.disabled = false;
      if (e.cancelled) { posePanel.dataset.state = "cancelled"; reason.textContent = "Cancelled."; return; }
      showError(root, e.message);
      return;
    } finally {
      job = null;
    }
    bar.remove();
    extract.disabled = false;
    showPose(pose);
  });

  function showPose(pose) {
    const [H, W] = pose.img_shape;
    const width = 420, height = Math.round((width * H) / W);
    const poseCanvas = el("canvas", { class: "skeleton pose-canvas", width, height });
    // the frames behind the pose, loaded once each; a frame that arrives while it is shown is drawn again
    let shown = { t: 0, trail: 4 };
    const images = pose.frame_index.map((i, t) => {
      const img = new Image();
      img.onload = () => { if (shown.t === t) draw(shown.t, shown.trail); };
      img.src = `/api/skeleton/frame/${i}?clip=${encodeURIComponent(pose.clip)}`;
      return img;
    });
    const project = ([x, y]) => [(x / W) * width, (y / H) * height];
    const present = (m, t) => pose.found[m][t];
    function draw(t, trail) {
      shown = { t, trail };
      const img = images[t].complete && images[t].naturalWidth ? images[t] : null;
      drawSkeleton(poseCanvas, pose, t, trail, project, present, img);
      poseCanvas.dataset.background = img ? "1" : "0";
    }
    const duration = pose.timestamps.length ? pose.timestamps[pose.timestamps.length - 1] + 1e-3 : 1;
    const segments = pose.timeline.map((w, i) => ({ start: w.start, end: w.end, label: w.top[0]?.label ?? "no answer", score: w.top[0]?.score, color: colorOf(i) }));
    const side = el("div", { style: { flex: "1 1 280px", minWidth: "0" } },
      el("h2", {}, `${pose.model} says`),
      el("p", { class: "note" }, `${pose.clip}${pose.truth ? ` (${pose.truth})` : ""}: ${pose.frames} frames, layout ${pose.layout}, found in ${pct(pose.found_fraction)} of them`),
      pose.note ? el("p", { class: "note pose-note" }, pose.note) : null,
      topList(pose.top, "pose-top"));
    const timelineBox = el("div", { class: "pose-timeline" });
    const controls2 = el("div", {});
    result.replaceChildren(el("div", { class: "row" }, el("div", {}, poseCanvas, controls2), side), timelineBox);
    timeline(timelineBox, { duration, tracks: [{ name: "top-1 per window", segments }], title: "the model's answer over time (windows of 2 s)", width: 620 });
    posePlayer = player(controls2, pose.frames, draw, { fps: 10 });
    stops.push(posePlayer.stop);
    Object.assign(posePanel.dataset, { clip: pose.clip, frames: String(pose.frames), state: "done" });
  }

  root.dataset.ready = "1";
  return () => {
    for (const stop of stops) stop();
    if (job) job.cancel();
  };
}
