// Page 6, "Attention patterns": the cost of each pattern as the token grid grows (GET /api/attention/cost, the
// numbers of `vidact attention-cost`), which tokens one query attends to under each pattern, measured on vidact's
// attention modules (GET /api/attention/attends), and VideoMAE's tube mask (GET /api/attention/mask).

import { el, svg, showError, clearError, lineChart, fmt, colorOf } from "../lib.js";

const SUB_COLORS = ["#2563eb", "#dc2626"]; // first and second sublayer of a pattern
const BOTH = "#7c3aed";

function number(name, label, value, min, max, step = 1) {
  const input = el("input", { type: "number", name, value, min, max, step, style: { width: "5em" } });
  return [input, el("label", {}, label, input)];
}

const giga = (x) => fmt(x / 1e9, 1);
const pairs = (x) => (x >= 1e6 ? `${fmt(x / 1e6, 2)} M` : x.toLocaleString("en"));

function costTable(data) {
  return el("table", { class: "costs" },
    el("tr", {}, ...["pattern", "tokens", "layers", "pairs / layer", "attention GFLOPs", "total GFLOPs", "attention maps"].map((h, i) => el("th", { class: i ? "num" : "" }, h))),
    ...data.patterns.map((c) => el("tr", { class: "cost", "data-pattern": c.pattern, "data-pairs": c.pairs_per_layer, "data-flops": c.flops },
      el("td", { title: data.descriptions[c.pattern] }, c.pattern),
      el("td", { class: "num" }, c.tokens.toLocaleString("en")),
      el("td", { class: "num" }, String(c.layers)),
      el("td", { class: "num pairs" }, pairs(c.pairs_per_layer)),
      el("td", { class: "num" }, giga(c.attention_flops)),
      el("td", { class: "num" }, giga(c.flops)),
      el("td", { class: "num" }, `${fmt(c.attention_map_bytes / 2 ** 20, 0)} MiB`))));
}

function growthCharts(box, data) {
  box.replaceChildren();
  const names = data.patterns.map((c) => c.pattern);
  for (const [axis, what, label] of [["frames", "pairs", "attention pairs per layer"], ["frames", "flops", "FLOPs per clip"], ["size", "pairs", "attention pairs per layer"], ["size", "flops", "FLOPs per clip"]]) {
    const g = data.growth[axis];
    lineChart(box, {
      title: `${label} vs ${axis === "frames" ? "frames" : "frame size"} (log scale)`,
      series: names.map((p, i) => ({ name: p, x: g.values, y: g[what][p].map((v) => Math.log10(v)), color: colorOf(i), points: true })),
      xLabel: axis === "frames" ? "frames per clip" : "frame side (pixels)", yLabel: `log10 ${what}`,
      width: 480, height: 230, legend: axis === "frames" && what === "pairs", yFormat: (t) => `1e${fmt(t, 1)}`,
    });
  }
}

/** One pattern's token grid: T' frames of H' x W' cells; the query black, each sublayer's tokens coloured. */
function patternGrid(pattern, grid, query, onPick) {
  const [T, H, W] = grid;
  const cell = Math.max(9, Math.min(18, Math.floor(96 / Math.max(H, W))));
  const fw = W * cell + 8;
  const width = T * fw, height = H * cell + 16;
  const sets = pattern.sublayers.map((s) => new Set(s.tokens));
  const root = svg("svg", { class: "chart token-grid", width, height, viewBox: `0 0 ${width} ${height}`, "data-pattern": pattern.name, "data-reach": pattern.reach.length });
  for (let t = 0; t < T; t += 1) {
    root.append(svg("text", { class: "tick", x: t * fw, y: 10 }, `t=${t}`));
    for (let h = 0; h < H; h += 1) {
      for (let w = 0; w < W; w += 1) {
        const i = (t * H + h) * W + w;
        const inSets = sets.map((s) => s.has(i));
        const isQuery = i === query;
        let fill = "#f1f5f9";
        if (inSets.every(Boolean) && sets.length > 1) fill = BOTH;
        else if (inSets[0]) fill = SUB_COLORS[0];
        else if (inSets[1]) fill = SUB_COLORS[1];
        const rect = svg("rect", {
          class: `token${isQuery ? " query" : ""}${inSets.some(Boolean) ? " attended" : ""}`,
          x: t * fw + w * cell, y: 14 + h * cell, width: cell - 1, height: cell - 1, fill,
          stroke: isQuery ? "#0f172a" : "none", "stroke-width": isQuery ? 2.5 : 0,
          "data-token": i, "data-t": t, "data-h": h, "data-w": w, "data-in": inSets.map((b, k) => (b ? k : "")).filter((x) => x !== "").join(","),
        }, svg("title", {}, `token (${t}, ${h}, ${w})`));
        rect.style.cursor = "pointer";
        rect.addEventListener("click", () => onPick(t, h, w));
        root.append(rect);
      }
    }
  }
  return root;
}

export async function render(root, api) {
  // ---------------------------------------------------------------- cost
  const [frames, framesLabel] = number("frames", "frames", 16, 1, 256);
  const [size, sizeLabel] = number("size", "frame size", 224, 8, 1024);
  const [tubelet, tubeletLabel] = number("tubelet", "tubelet t", 2, 1, 16);
  const [patch, patchLabel] = number("patch", "patch p", 16, 1, 64);
  const costBox = el("div", { class: "cost-table" });
  const growthBox = el("div", { class: "row growth" });
  const gridInfo = el("p", { class: "answer grid-info" });
  root.append(el("div", { class: "panel" },
    el("h2", {}, "What each pattern costs (vidact attention-cost)"),
    el("div", { class: "controls" }, framesLabel, sizeLabel, tubeletLabel, patchLabel),
    gridInfo, costBox, growthBox));

  let costSeq = 0;
  async function loadCost() {
    const params = new URLSearchParams({ frames: frames.value, size: size.value, tubelet: tubelet.value, patch: patch.value });
    const mine = ++costSeq;
    let data;
    try {
      data = await api.get(`attention/cost?${params}`);
    } catch (e) {
      if (mine === costSeq) showError(root, e.message);
      return;
    }
    if (mine !== costSeq) return;
    clearError(root);
    const [T, H, W] = data.patterns[0].grid;
    gridInfo.dataset.grid = `${T},${H},${W}`;
    gridInfo.replaceChildren(`${data.sizes.frames} frames of ${data.sizes.size}x${data.sizes.size} in ${data.sizes.tubelet}x${data.sizes.patch}x${data.sizes.patch} tubelets: a `,
      el("span", { class: "label" }, `${T} x ${H} x ${W}`), ` grid of ${data.patterns[0].tokens.toLocaleString("en")} tokens (ViT-B: D 768, 12 layers, 12 heads).`);
    costBox.replaceChildren(costTable(data));
    growthCharts(growthBox, data);
  }
  for (const input of [frames, size, tubelet, patch]) input.addEventListener("change", loadCost);

  // ---------------------------------------------------------------- attends
  const [gt, gtLabel] = number("grid_t", "T'", 4, 1, 8);
  const [gh, ghLabel] = number("grid_h", "H'", 4, 1, 8);
  const [gw, gwLabel] = number("grid_w", "W'", 4, 1, 8);
  const queryText = el("span", { class: "mono query-text" });
  const grids = el("div", { class: "grids" });
  root.append(el("div", { class: "panel" },
    el("h2", {}, "Which tokens one query attends to"),
    el("p", { class: "note" },
      "Measured on vidact's attention modules as each model's block holds them: a token is attended when the query's ",
      "output has a non-zero gradient with respect to it. Blue: the first attention sublayer of a block, red: the ",
      "second, purple: both. Click a token to make it the query."),
    el("div", { class: "controls" }, gtLabel, ghLabel, gwLabel, queryText), grids));

  let query = [1, 1, 2];
  let attendSeq = 0;
  async function loadAttends() {
    const T = Number(gt.value), H = Number(gh.value), W = Number(gw.value);
    query = [Math.min(query[0], T - 1), Math.min(query[1], H - 1), Math.min(query[2], W - 1)];
    const params = new URLSearchParams({ frames: T, height: H, width: W, t: query[0], h: query[1], w: query[2] });
    const mine = ++attendSeq;
    let data;
    try {
      data = await api.get(`attention/attends?${params}`);
    } catch (e) {
      if (mine === attendSeq) showError(root, e.message);
      return;
    }
    if (mine !== attendSeq) return;
    clearError(root);
    queryText.textContent = `query (t, h, w) = (${data.query.join(", ")})`;
    grids.dataset.query = data.query.join(",");
    const pick = (t, h, w) => { query = [t, h, w]; loadAttends(); };
    grids.replaceChildren(...data.patterns.map((p) => el("div", { class: "pattern", "data-pattern": p.name },
      el("h2", {}, p.title, el("span", { class: "note" },
        `  ${p.sublayers.map((s, k) => `${k ? "then " : ""}${s.what} (${s.tokens.length} tokens)`).join(", ")}; ${p.reach.length} of ${data.grid.reduce((a, b) => a * b, 1)} in one block`)),
      el("div", { style: { overflowX: "auto" } }, patternGrid(p, data.grid, data.query_index, pick)))));
  }
  for (const input of [gt, gh, gw]) input.addEventListener("change", loadAttends);

  // ---------------------------------------------------------------- masking
  const [ratio, ratioLabel] = number("ratio", "mask ratio", 0.9, 0.05, 0.95, 0.05);
  const seedText = el("span", { class: "mono mask-seed", "data-seed": 0 }, "seed 0");
  const again = el("button", { type: "button", class: "new-mask" }, "New mask");
  const maskNote = el("p", { class: "note mask-note" });
  const maskInfo = el("p", { class: "answer mask-info" });
  const strips = el("div", { class: "strips" });
  root.append(el("div", { class: "panel" },
    el("h2", {}, "VideoMAE's tube mask"),
    el("p", { class: "note" },
      "VideoMAE hides the same spatial cells at every time step (a tube), 90 % of them, and its encoder sees only ",
      "the tokens left: the grey squares below are what it never sees (vidact.models.videomae.tube_mask)."),
    el("div", { class: "controls" }, ratioLabel, again, seedText), maskNote, maskInfo, strips));

  let seed = 0;
  let maskSeq = 0;
  async function loadMask() {
    const mine = ++maskSeq;
    let data;
    try {
      data = await api.get(`attention/mask?ratio=${ratio.value}&seed=${seed}`);
    } catch (e) {
      if (mine === maskSeq) showError(root, e.message);
      return;
    }
    if (mine !== maskSeq) return;
    clearError(root);
    seedText.dataset.seed = String(data.seed);
    seedText.textContent = `seed ${data.seed}`;
    maskNote.textContent = `${data.note} Clip: ${data.source}.`;
    maskNote.dataset.reconstruction = data.reconstruction ? "1" : "0";
    const [T, H, W] = data.grid;
    maskInfo.dataset.hidden = String(data.hidden);
    maskInfo.dataset.visible = String(data.visible);
    maskInfo.dataset.cells = data.visible_cells.join(",");
    maskInfo.replaceChildren(`${T} x ${H} x ${W} = ${data.tokens} tokens; hidden `, el("span", { class: "label hidden-count" }, String(data.hidden)),
      `, visible `, el("span", { class: "label visible-count" }, String(data.visible)),
      ` (${data.visible_cells.length} of ${H * W} cells at each of the ${T} time steps)` + (data.mse !== undefined ? `; reconstruction error (normalised pixels, MSE) ${fmt(data.mse, 4)}` : ""));
    const q = `ratio=${data.ratio}&seed=${data.seed}`;
    const step = data.tubelet[0];
    const rows = [["clip", "the clip"], ["masked", "what the encoder sees"]];
    if (data.reconstruction) rows.push(["reconstruction", "reconstructed"]);
    const side = Math.min(112, Math.max(64, data.size[1]));
    strips.replaceChildren(...rows.map(([kind, title]) => el("div", { class: `strip strip-${kind}` },
      el("h2", {}, title),
      el("div", { class: "row", style: { gap: "4px" } }, ...Array.from({ length: T }, (_, s) =>
        el("img", { src: `/api/attention/mask/frame/${s * step}?kind=${kind}&${q}`, width: side, height: side, alt: `${title}, time step ${s}`, "data-frame": s * step, style: { imageRendering: "pixelated" } }))))));
  }
  again.addEventListener("click", () => { seed += 1; loadMask(); });
  ratio.addEventListener("change", loadMask);

  await Promise.all([loadCost(), loadAttends(), loadMask()]);
  root.dataset.ready = "1";
}
