// Page 4, "3D kernels and inflation": a kt x kh x kw kernel sliding through a T x H x W volume (output size from
// a real torch Conv3d, GET /api/kernels/conv), and ImageNet EfficientNet-Lite0 inflated to 3D: its first kernels and
// the boring-video identity, measured (GET /api/kernels/inflate).

import { el, showError, clearError, barChart, fmt } from "../lib.js";

const CONV_FIELDS = [
  ["frames", "T", 8, 1, 64], ["height", "H", 8, 1, 64], ["width", "W", 8, 1, 64],
  ["kt", "kt", 3, 1, 16], ["kh", "kh", 3, 1, 16], ["kw", "kw", 3, 1, 16],
  ["st", "stride t", 1, 1, 16], ["sh", "stride h", 2, 1, 16], ["sw", "stride w", 2, 1, 16],
  ["pt", "pad t", 1, 0, 8], ["ph", "pad h", 1, 0, 8], ["pw", "pad w", 1, 0, 8],
];

/** Draw T (+ padding) frames of an H x W grid, the kernel's window at output position `o` highlighted. */
function drawVolume(canvas, g, o) {
  const [T, H, W] = g.input;
  const [kt, kh, kw] = g.kernel;
  const [pt, ph, pw] = g.padding;
  const [, Ho, Wo] = g.output;
  const ot = Math.floor(o / (Ho * Wo)), oh = Math.floor(o / Wo) % Ho, ow = o % Wo;
  const t0 = g.starts.t[ot], h0 = g.starts.h[oh], w0 = g.starts.w[ow];
  const frames = T + 2 * pt, rows = H + 2 * ph, cols = W + 2 * pw;
  const cell = Math.max(3, Math.min(12, Math.floor(150 / Math.max(rows, cols))));
  const fw = cols * cell + 10, fh = rows * cell + 22;
  const perLine = Math.max(1, Math.floor(860 / fw));
  canvas.width = Math.min(frames, perLine) * fw;
  canvas.height = Math.ceil(frames / perLine) * fh;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui, sans-serif";
  for (let f = 0; f < frames; f += 1) {
    const t = f - pt; // the input frame (negative or >= T: padding)
    const x0 = (f % perLine) * fw, y0 = Math.floor(f / perLine) * fh;
    const padFrame = t < 0 || t >= T;
    const inWindowT = t >= t0 && t < t0 + kt;
    ctx.fillStyle = inWindowT ? "#1d4ed8" : "#6b7280";
    ctx.fillText(padFrame ? `pad` : `t=${t}`, x0, y0 + 11);
    for (let r = 0; r < rows; r += 1) {
      for (let c = 0; c < cols; c += 1) {
        const h = r - ph, w = c - pw;
        const pad = padFrame || h < 0 || h >= H || w < 0 || w >= W;
        const hit = inWindowT && h >= h0 && h < h0 + kh && w >= w0 && w < w0 + kw;
        ctx.fillStyle = hit ? (pad ? "#93c5fd" : "#2563eb") : pad ? "#f8fafc" : "#e2e8f0";
        ctx.fillRect(x0 + c * cell, y0 + 16 + r * cell, cell - 1, cell - 1);
      }
    }
  }
  return { ot, oh, ow, t0, h0, w0 };
}

/** Draw the output volume T' x H' x W', the current output cell filled. */
function drawOutput(canvas, g, o) {
  const [To, Ho, Wo] = g.output;
  const cell = Math.max(3, Math.min(12, Math.floor(110 / Math.max(Ho, Wo))));
  const fw = Wo * cell + 10, fh = Ho * cell + 22;
  const perLine = Math.max(1, Math.floor(860 / fw));
  canvas.width = Math.min(To, perLine) * fw;
  canvas.height = Math.ceil(To / perLine) * fh;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui, sans-serif";
  for (let t = 0; t < To; t += 1) {
    const x0 = (t % perLine) * fw, y0 = Math.floor(t / perLine) * fh;
    ctx.fillStyle = "#6b7280";
    ctx.fillText(`t'=${t}`, x0, y0 + 11);
    for (let h = 0; h < Ho; h += 1) {
      for (let w = 0; w < Wo; w += 1) {
        const i = (t * Ho + h) * Wo + w;
        ctx.fillStyle = i === o ? "#dc2626" : i < o ? "#fca5a5" : "#e2e8f0";
        ctx.fillRect(x0 + w * cell, y0 + 16 + h * cell, cell - 1, cell - 1);
      }
    }
  }
}

/** A kernel's [3][kh][kw] (RGB) slice as an image: 128 + 127 * v / scale per channel, `size` px per weight. */
function kernelImage(rgb, scale, size) {
  const kh = rgb[0].length, kw = rgb[0][0].length;
  const canvas = el("canvas", { class: "kernel", width: kw * size, height: kh * size });
  const ctx = canvas.getContext("2d");
  for (let r = 0; r < kh; r += 1) {
    for (let c = 0; c < kw; c += 1) {
      const v = [0, 1, 2].map((ch) => Math.round(128 + (127 * rgb[ch][r][c]) / (scale || 1)));
      ctx.fillStyle = `rgb(${v[0]}, ${v[1]}, ${v[2]})`;
      ctx.fillRect(c * size, r * size, size, size);
    }
  }
  return canvas;
}

const absMax = (kernel2d) => Math.max(...kernel2d.flat(2).map(Math.abs));

export async function render(root, api) {
  // ---------------------------------------------------------------- the sliding kernel
  const inputs = {};
  const controls = el("div", { class: "controls" });
  for (const [name, label, value, min, max] of CONV_FIELDS) {
    inputs[name] = el("input", { type: "number", name, value, min, max, step: 1, style: { width: "4em" } });
    controls.append(el("label", {}, label, inputs[name]));
  }
  const shape = el("p", { class: "answer conv-shape" });
  const scrub = el("input", { type: "range", min: 0, max: 0, value: 0, class: "position", "aria-label": "output position", style: { width: "320px" } });
  const play = el("button", { type: "button", class: "play" }, "Play");
  const where = el("span", { class: "mono where" });
  const volume = el("canvas", { class: "volume" });
  const output = el("canvas", { class: "output-volume" });
  root.append(el("div", { class: "panel conv" },
    el("h2", {}, "A 3D kernel sliding through a video volume"),
    el("p", { class: "note" },
      "The input is T frames of H x W cells (padding drawn pale); the kernel reads kt frames x kh rows x kw columns ",
      "at each output position. The output size is what a real torch.nn.Conv3d of these sizes gives."),
    controls, shape, el("div", { class: "controls" }, play, scrub, where),
    el("div", { style: { overflowX: "auto" } }, volume), el("h2", {}, "output"), el("div", { style: { overflowX: "auto" } }, output)));

  let geometry = null;
  let timer = null;
  function show(o) {
    if (!geometry) return;
    const at = drawVolume(volume, geometry, o);
    drawOutput(output, geometry, o);
    scrub.value = String(o);
    where.textContent = `output (${at.ot}, ${at.oh}, ${at.ow}) reads frames ${at.t0}..${at.t0 + geometry.kernel[0] - 1}, ` +
      `rows ${at.h0}..${at.h0 + geometry.kernel[1] - 1}, columns ${at.w0}..${at.w0 + geometry.kernel[2] - 1}`;
    where.dataset.out = `${at.ot},${at.oh},${at.ow}`;
    where.dataset.window = `${at.t0},${at.h0},${at.w0}`;
  }
  const stop = () => { clearInterval(timer); timer = null; play.textContent = "Play"; };
  play.addEventListener("click", () => {
    if (timer) return stop();
    play.textContent = "Pause";
    timer = setInterval(() => show((Number(scrub.value) + 1) % geometry.positions), 120);
  });
  scrub.addEventListener("input", () => { stop(); show(Number(scrub.value)); });

  let convSeq = 0;
  async function loadConv() {
    const params = new URLSearchParams();
    for (const [name, input] of Object.entries(inputs)) params.set(name, input.value);
    const mine = ++convSeq;
    let answer;
    try {
      answer = await api.get(`kernels/conv?${params}`);
    } catch (e) {
      if (mine !== convSeq) return;
      stop();
      showError(root, e.message);
      return;
    }
    if (mine !== convSeq) return; // a later change answers instead
    geometry = answer;
    clearError(root);
    const [T, H, W] = geometry.input, [kt, kh, kw] = geometry.kernel, [To, Ho, Wo] = geometry.output;
    shape.dataset.output = geometry.output.join(",");
    shape.replaceChildren(`Conv3d: ${T}x${H}x${W} input, ${kt}x${kh}x${kw} kernel → output `,
      el("span", { class: "label output-shape" }, `${To} x ${Ho} x ${Wo}`),
      ` = ${geometry.positions} positions, ${geometry.macs_per_channel_pair} multiply-adds per input-output channel pair`);
    scrub.max = String(geometry.positions - 1);
    show(Math.min(Number(scrub.value), geometry.positions - 1));
  }
  for (const input of Object.values(inputs)) input.addEventListener("change", loadConv);
  await loadConv();

  // ---------------------------------------------------------------- inflation
  const kt = el("select", { name: "time_kernel" }, ...[1, 3, 5, 7].map((k) => el("option", { value: k, selected: k === 3 }, String(k))));
  const frames = el("input", { type: "number", name: "frames", value: 8, min: 1, max: 16, step: 1, style: { width: "4em" } });
  const mode = el("select", { name: "mode" }, el("option", { value: "mean" }, "mean (W / kt each)"), el("option", { value: "center" }, "center (W in the middle)"));
  const padding = el("select", { name: "padding" }, el("option", { value: "replicate" }, "replicate edge frames"), el("option", { value: "zeros" }, "zeros"));
  const clip = el("select", { name: "clip" });
  const status = el("span", { class: "note status" });
  const frameImg = el("img", { class: "frame", width: 224, height: 224, alt: "the frame" });
  const kernels2d = el("div", { class: "kernels2d", style: { display: "grid", gridTemplateColumns: "repeat(8, 34px)", gap: "4px" } });
  const slices = el("div", { class: "slices row" });
  const identity = el("div", { class: "identity" });
  const tops = el("div", { class: "row tops" });
  root.append(el("div", { class: "panel inflation" },
    el("h2", {}, "ImageNet EfficientNet-Lite0, inflated to 3D"),
    el("p", { class: "note" },
      "vidact.models.inflate turns every 2D convolution into a 3D one: with mode mean each of the kt time slices ",
      "of a kernel is W / kt, so on a boring video (one frame repeated) the 3D network computes what the 2D one ",
      "computes on the frame. Below: the network's first convolution (32 kernels, 3x3 over RGB; grey is 0) and ",
      "that identity measured on a real frame."),
    el("div", { class: "controls" }, el("label", {}, "time kernel kt", kt), el("label", {}, "frames T", frames),
      el("label", {}, "mode", mode), el("label", {}, "temporal padding", padding), el("label", {}, "frame of", clip), status),
    el("div", { class: "row" },
      el("figure", { class: "player" }, frameImg, el("figcaption", {}, "the frame (as the network sees it)")),
      el("div", {}, el("h2", {}, "2D kernels (click one)"), kernels2d),
      el("div", {}, el("h2", { class: "slices-title" }, "its inflated time slices"), slices)),
    identity, tops));

  let chosen = 0;
  let inflated = null;
  function drawSlices() {
    const k2 = inflated.kernels2d[chosen], k3 = inflated.kernels3d[chosen];
    const scale = absMax(k2);
    const kTime = k3[0].length;
    slices.dataset.kernel = String(chosen);
    slices.dataset.kt = String(kTime);
    slices.replaceChildren(
      el("figure", { class: "player" }, kernelImage(k2, scale, 18), el("figcaption", {}, `2D kernel ${chosen}`)),
      ...Array.from({ length: kTime }, (_, j) => {
        const slice = [0, 1, 2].map((ch) => k3[ch][j]);
        const sum = slice.flat(2).reduce((a, b) => a + b, 0);
        return el("figure", { class: "player slice", "data-slice": j, "data-sum": sum },
          kernelImage(slice, scale, 18), el("figcaption", {}, `t = ${j - Math.floor(kTime / 2)}`));
      }));
    for (const c of kernels2d.children) c.style.outline = Number(c.dataset.kernel) === chosen ? "2px solid #dc2626" : "none";
  }

  let inflateSeq = 0;
  async function loadInflation() {
    const params = new URLSearchParams({ time_kernel: kt.value, frames: frames.value, mode: mode.value, padding: padding.value, clip: clip.value || "skateboarding" });
    status.textContent = "inflating and running both networks…";
    const mine = ++inflateSeq;
    let answer;
    try {
      answer = await api.get(`kernels/inflate?${params}`);
    } catch (e) {
      if (mine !== inflateSeq) return;
      status.textContent = "";
      showError(root, e.message);
      return;
    }
    if (mine !== inflateSeq) return;
    inflated = answer;
    clearError(root);
    status.textContent = "";
    if (!clip.options.length) {
      for (const [name, title] of Object.entries(inflated.clips)) clip.append(el("option", { value: name }, title));
      clip.value = inflated.clip;
    }
    frameImg.src = `/api/kernels/frame?clip=${encodeURIComponent(inflated.clip)}`;
    kernels2d.replaceChildren(...inflated.kernels2d.map((k, i) => {
      const c = kernelImage(k, absMax(k), 10);
      c.dataset.kernel = String(i);
      c.title = `kernel ${i}`;
      c.style.cursor = "pointer";
      c.addEventListener("click", () => { chosen = i; drawSlices(); });
      return c;
    }));
    drawSlices();
    const diffs = inflated.stem_max_abs_diff;
    identity.replaceChildren(
      el("h2", {}, "The boring-video identity"),
      el("p", { class: "answer identity-logits", "data-value": inflated.logits_max_abs_diff },
        `largest |3D logit − 2D logit| over the 1000 ImageNet classes: `,
        el("span", { class: "label" }, fmt(inflated.logits_max_abs_diff, 6)),
        `  (video ${inflated.shapes.video.join("x")} vs image ${inflated.shapes.image.join("x")}; `,
        `slices sum to the 2D kernel within ${fmt(inflated.slice_sum_max_abs_diff, 8)})`),
      el("div", { class: "stem-diffs", "data-values": diffs.join(",") }));
    barChart(identity.querySelector(".stem-diffs"), {
      title: "first layer (conv_stem + BN + ReLU6): largest |3D − 2D| on each frame",
      labels: diffs.map((_, t) => `t=${t}`), values: diffs, width: 620, height: 220, format: (v) => fmt(v, 4),
    });
    const list = (title, top, cls) => el("div", { class: cls },
      el("h2", {}, title),
      el("ol", {}, ...top.map((c) => el("li", { "data-index": c.index }, `${c.name} `, el("span", { class: "mono" }, fmt(c.score, 4))))));
    tops.replaceChildren(list("2D network on the frame", inflated.top2d, "top2d"), list("3D network on the boring video", inflated.top3d, "top3d"));
    root.dataset.inflated = `${inflated.time_kernel},${inflated.frames},${inflated.mode},${inflated.padding}`;
  }
  for (const c of [kt, frames, mode, padding, clip]) c.addEventListener("change", loadInflation);
  await loadInflation();
  root.dataset.ready = "1";
  return stop;
}
