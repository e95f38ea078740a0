// Page 1, "Same middle frame": a clip and its reversal, played side by side, and what the per-frame and the
// temporal model answer for each (api: /api/middle_frame/status, /train, /clips).

import { clearError, drawFrames, el, fmt, pct, progressBar, showError } from "../lib.js";

const pretty = (name) => String(name).replaceAll("_", " ");

export async function render(root, api) {
  let status = await api.get("middle_frame/status");
  let data = null;
  let index = 0;
  let timer = null;
  let training = null;

  const statusBox = el("div", { class: "panel mf-status" });
  const pairSelect = el("select", { class: "mf-pair", "aria-label": "pair" });
  const clipInput = el("input", { type: "number", class: "mf-index", min: 0, max: 999, value: 0, "aria-label": "clip" });
  const another = el("button", { type: "button", class: "mf-another" }, "Another clip");
  const playButton = el("button", { type: "button", class: "mf-play primary" }, "Play");
  const middleButton = el("button", { type: "button", class: "mf-goto-middle" }, "Middle frame");
  const slider = el("input", { type: "range", class: "scrub mf-scrub", min: 0, max: 0, value: 0, "aria-label": "frame" });
  const counter = el("span", { class: "frame-index mf-counter" });
  const middleNote = el("p", { class: "mf-middle note" });
  const canvases = [0, 1].map(() => el("canvas", { class: "frames", width: 224, height: 224 }));
  const captions = [0, 1].map(() => el("figcaption"));
  const answers = el("div", { class: "panel mf-answers" });

  root.append(
    statusBox,
    el("div", { class: "controls" },
      el("label", {}, "pair", pairSelect), el("label", {}, "clip", clipInput), another),
    el("div", { class: "row" },
      ...[0, 1].map((i) => el("figure", { class: "player", "data-clip": i }, canvases[i], captions[i]))),
    el("div", { class: "controls" }, playButton, middleButton, slider, counter),
    middleNote,
    answers,
  );

  function pairs() {
    if (status.ready) return status.pairs;
    return status.plan.pairs;
  }

  function fillPairs() {
    const current = pairSelect.value;
    pairSelect.replaceChildren(...pairs().map((p) => el("option", { value: p }, p)));
    if (pairs().includes(current)) pairSelect.value = current;
  }

  function drawStatus() {
    statusBox.replaceChildren();
    if (status.ready) {
      const where = status.source === "runs" ? "from the --runs folder" : "trained here earlier";
      statusBox.append(el("p", { class: "mf-source" },
        `Models ${where}: per-frame ${status.models.per_frame.name}, temporal ${status.models.temporal.name}; `,
        `${status.models.temporal.classes.length} classes.`));
      return;
    }
    const plan = status.plan;
    statusBox.append(
      el("p", {}, "No trained models yet. Start the explorer with ", el("code", {}, "--runs DIR"),
        " (a ", el("code", {}, "vidact demo --out DIR"), " folder), or train them here: ",
        `${plan.videos} synthetic videos of the pairs ${plan.pairs.join(", ")}, then the per-frame model `,
        `(${plan.recipes.per_frame}, ${plan.epochs.per_frame} epochs) and the temporal model `,
        `(${plan.recipes.temporal}, ${plan.epochs.temporal} epochs), in the background.`),
      el("button", { type: "button", class: "mf-train primary", onclick: () => startTraining() }, "Train the models"),
    );
    if (status.training) follow(status.training);
  }

  async function startTraining() {
    clearError(root);
    try {
      const started = await api.post("middle_frame/train");
      follow(started.job);
    } catch (e) {
      showError(root, e.message);
    }
  }

  async function follow(jobId) {
    if (training) return;
    const button = statusBox.querySelector(".mf-train");
    if (button) button.disabled = true;
    let job = null;
    const bar = progressBar(statusBox, { label: "training", onCancel: () => job && job.cancel() });
    bar.el.dataset.job = jobId;
    job = api.job(jobId, (fraction, message) => bar.set(fraction, message), { interval: 500 });
    training = job;
    try {
      status = await job;
      training = null;
      bar.remove();
      fillPairs();
      drawStatus();
      await load();
    } catch (e) {
      training = null;
      if (e.stopped) return; // the user left the page: the training goes on
      bar.remove();
      drawStatus();
      showError(root, e.cancelled ? "training cancelled: Train again resumes it" : e.message);
    }
  }

  async function show(i) {
    if (!data) return;
    index = Math.max(0, Math.min(data.frames - 1, i));
    slider.value = String(index);
    counter.textContent = `frame ${index + 1} of ${data.frames}`;
    await Promise.all([0, 1].map((k) => drawFrames(canvases[k], data.clips[k].frames, index)));
    const atMiddle = index === data.middle;
    middleNote.classList.toggle("at-middle", atMiddle);
    middleNote.textContent = atMiddle
      ? `Frame ${data.middle + 1} is the middle frame: ${data.middle_identical ? "the same image in both clips, pixel for pixel" : "not identical"}.`
      : `Frame ${index + 1} of the first clip is frame ${data.frames - index} of the second (it is the first played backwards${data.reversed ? "" : "?"}).`;
  }

  function pause() {
    if (timer) clearInterval(timer);
    timer = null;
    playButton.textContent = "Play";
  }

  function play() {
    if (!data || timer) return;
    playButton.textContent = "Pause";
    timer = setInterval(() => show((index + 1) % data.frames), 1000 / data.fps);
  }

  function drawAnswers() {
    answers.replaceChildren(el("h2", {}, "What the models say"));
    if (!data.answers) {
      answers.append(el("p", { class: "note" }, "The models' answers appear here once they are trained."));
      return;
    }
    const [a, b] = data.answers;
    const cell = (answer, model) => {
      const f = answer[model];
      const right = f.top === answer.name;
      return el("td", {
        class: `answer ${right ? "right" : "wrong"}`, "data-model": model, "data-clip": answer.name, "data-top": f.top,
        "data-p": f.clip_probs[answer.name],
      },
      el("span", { class: "label" }, pretty(f.top)), ` ${right ? "✓" : "✗"}`,
      el("div", { class: "note" }, data.classes.map((c) => `P(${pretty(c)}) ${fmt(f.clip_probs[c], 2)}`).join(" · ")));
    };
    const middleCell = (answer) => el("td", { class: "mf-middle-probs", "data-clip": answer.name,
      "data-probs": JSON.stringify(answer.middle_probs) },
    answer.middle_probs ? data.classes.map((c) => `P(${pretty(c)}) ${fmt(answer.middle_probs[c], 3)}`).join(" · ") : "–");
    answers.append(el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "model"), el("th", {}, `clip 1: ${pretty(a.name)}`), el("th", {}, `clip 2: ${pretty(b.name)}`))),
      el("tbody", {},
        el("tr", {}, el("th", {}, "per-frame (each frame alone, scores averaged)"), cell(a, "per_frame"), cell(b, "per_frame")),
        el("tr", {}, el("th", {}, "temporal (the frames in order)"), cell(a, "temporal"), cell(b, "temporal")),
        el("tr", {}, el("th", {}, `per-frame, the middle frame alone (t = ${fmt(a.middle_time, 3)} s)`), middleCell(a), middleCell(b)))));
    answers.append(el("p", { class: "note" },
      `Within the pair, the per-frame model's clip-level P(${pretty(data.classes[0])}) is `,
      `${pct(a.per_frame.clip_probs[data.classes[0]])} for clip 1 and ${pct(b.per_frame.clip_probs[data.classes[0]])} for clip 2: `,
      "the same frames in another order give it (nearly) the same scores. The temporal model sees the order."));
  }

  async function load() {
    pause();
    clearError(root);
    root.classList.add("loading");
    try {
      const pair = encodeURIComponent(pairSelect.value || pairs()[0]);
      data = await api.get(`middle_frame/clips?pair=${pair}&index=${Number(clipInput.value) || 0}`);
    } catch (e) {
      showError(root, e.message);
      root.classList.remove("loading");
      return;
    } finally {
      root.classList.remove("loading");
    }
    slider.max = String(data.frames - 1);
    data.clips.forEach((c, k) => { captions[k].textContent = `clip ${k + 1}: ${pretty(c.name)}`; });
    root.dataset.pair = data.pair;
    root.dataset.index = String(data.index);
    await show(data.middle);
    drawAnswers();
    root.dataset.ready = "1";
  }

  pairSelect.addEventListener("change", load);
  clipInput.addEventListener("change", load);
  another.addEventListener("click", () => { clipInput.value = String((Number(clipInput.value) || 0) + 1); load(); });
  playButton.addEventListener("click", () => (timer ? pause() : play()));
  middleButton.addEventListener("click", () => { pause(); show(data ? data.middle : 0); });
  slider.addEventListener("input", () => { pause(); show(Number(slider.value)); });

  fillPairs();
  drawStatus();
  await load();
  return () => {
    pause();
    if (training) training.stop();
  };
}
