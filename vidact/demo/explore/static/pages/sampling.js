// Page 9, "Clip sampling": the frames each of vidact's samplers takes from a video, drawn from the indices the
// API returns (GET /api/sampling/indices). Resample asks again with a new seed: the random samplers move.

import { el, svg, showError, clearError, colorOf } from "../lib.js";

const CELL = 18; // px per frame
const ROW = 22; // px per clip row

const FIELDS = [
  ["num_frames", "frames in the video", 32, 1, 512],
  ["clip_len", "frames per clip", 8, 1, 128],
  ["stride", "stride", 2, 1, 32],
  ["num_segments", "TSN segments", 8, 1, 64],
  ["num_clips", "test clips", 4, 1, 32],
];

/** One sampler's rows: a strip of `n` frame cells per clip, the frames it takes filled (a count where repeated). */
function drawMethod(method, n, color) {
  const width = 40 + n * CELL;
  const rows = method.clips.length;
  const height = 18 + rows * ROW;
  const root = svg("svg", {
    class: "chart sampling", width, height, viewBox: `0 0 ${width} ${height}`,
    "data-method": method.name, "data-rows": rows,
  });
  for (let f = 0; f < n; f += 4) {
    root.append(svg("text", { class: "tick", x: 40 + f * CELL + CELL / 2, y: 11, "text-anchor": "middle" }, String(f)));
  }
  method.clips.forEach((clip, r) => {
    const y = 16 + r * ROW;
    const counts = new Map();
    for (const i of clip) counts.set(i, (counts.get(i) || 0) + 1);
    const row = svg("g", { class: "clip-row", "data-clip": r, "data-indices": clip.join(",") },
      svg("text", { class: "tick", x: 34, y: y + 13, "text-anchor": "end" }, rows > 1 ? `clip ${r + 1}` : ""));
    for (let f = 0; f < n; f += 1) {
      const taken = counts.get(f) || 0;
      row.append(svg("rect", {
        class: taken ? "cell on" : "cell", x: 40 + f * CELL + 1, y, width: CELL - 2, height: ROW - 4, rx: 3,
        fill: taken ? color : "#f1f5f9", stroke: "#e2e8f0", "data-frame": f, "data-count": taken,
      }, svg("title", {}, taken ? `frame ${f}: taken ${taken}x` : `frame ${f}`)));
      if (taken > 1) {
        row.append(svg("text", { class: "cell-count", x: 40 + f * CELL + CELL / 2, y: y + 13, "text-anchor": "middle", fill: "white" }, `${taken}`));
      }
    }
    root.append(row);
  });
  return root;
}

export async function render(root, api) {
  const inputs = {};
  const controls = el("div", { class: "controls" });
  for (const [name, label, value, min, max] of FIELDS) {
    inputs[name] = el("input", { type: "number", name, value, min, max, step: 1, style: { width: "5em" } });
    controls.append(el("label", {}, label, inputs[name]));
  }
  let seed = 0;
  const seedText = el("span", { class: "seed mono", "data-seed": seed }, `seed ${seed}`);
  const resample = el("button", { type: "button", class: "primary resample" }, "Resample");
  const apply = el("button", { type: "button", class: "apply" }, "Apply");
  controls.append(apply, resample, seedText);
  const out = el("div", { class: "methods" });
  root.append(
    el("p", { class: "note" },
      "Each strip is the video's frames; a filled cell is a frame the sampler takes (a number: taken that many ",
      "times, when the clip is longer than the video). Random samplers draw from numpy's default_rng(seed)."),
    controls, out);

  let seq = 0;
  async function load() {
    const params = new URLSearchParams({ seed: String(seed) });
    for (const name of Object.keys(inputs)) params.set(name, inputs[name].value);
    const mine = ++seq;
    try {
      const data = await api.get(`sampling/indices?${params}`);
      if (mine !== seq) return; // a later change answers instead
      clearError(root);
      seedText.dataset.seed = String(data.seed);
      seedText.textContent = `seed ${data.seed}`;
      out.replaceChildren(...data.methods.map((m, i) =>
        el("div", { class: "panel method", "data-method": m.name },
          el("h2", {}, m.label, m.random ? el("span", { class: "note" }, "  (random)") : null),
          el("p", { class: "note mono" }, m.call),
          el("div", { style: { overflowX: "auto" } }, drawMethod(m, data.num_frames, colorOf(i))))));
      root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    } catch (e) {
      if (mine === seq) showError(root, e.message);
    }
    root.dataset.ready = "1";
  }

  resample.addEventListener("click", () => {
    seed = Math.floor(Math.random() * 2 ** 31);
    load();
  });
  apply.addEventListener("click", load);
  for (const input of Object.values(inputs)) input.addEventListener("change", load);
  await load();
}
