// The shell: the nav from /api/pages, hash routing (#/<slug>), and each page's module (pages/<slug>.js).
//
// A page module exports `render(root, api)`: it draws into `root` (an empty element), sets
// `root.dataset.ready = "1"` once its first data is drawn, and shows errors with `showError(root, message)`.
// `render` may return (or resolve to) a function: it is called when the user leaves the page (stop timers,
// cancel jobs).

import { api, el, showError } from "./lib.js";

const nav = document.getElementById("nav");
const main = document.getElementById("main");
let pages = [];
let leave = null; // the current page's cleanup
let generation = 0; // bumped on each navigation: a late render of a page left behind is cleaned up at once

async function init() {
  try {
    pages = await api.get("/api/pages");
  } catch (e) {
    showError(main, e.message);
    return;
  }
  nav.replaceChildren(
    el("a", { href: "#/", class: "nav-home", "data-slug": "" }, "Overview"),
    ...pages.map((p) =>
      el("a", { href: `#/${p.slug}`, "data-slug": p.slug, title: p.summary },
        el("span", { class: "nav-order" }, String(p.order)), " ", p.title)),
  );
  window.addEventListener("hashchange", route);
  await route();
}

function cleanup() {
  if (typeof leave === "function") {
    try { leave(); } catch (e) { console.error(e); }
  }
  leave = null;
}

async function route() {
  const slug = decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("?")[0];
  const mine = ++generation;
  cleanup();
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.dataset.slug === slug);
  main.replaceChildren();
  if (!slug) return home();
  const page = pages.find((p) => p.slug === slug);
  if (!page) {
    const root = el("section", { class: "page" });
    main.append(root);
    showError(root, `no page '${slug}'`);
    return;
  }
  document.title = `${page.title} · vidact explorer`;
  const body = el("div", { class: "page-body", id: `page-${slug}`, "data-slug": slug });
  main.append(el("section", { class: "page" },
    el("h1", {}, page.title), el("p", { class: "summary" }, page.summary), body));
  try {
    const mod = await import(`./pages/${slug}.js`);
    const done = await mod.render(body, api);
    if (mine === generation) leave = done;
    else if (typeof done === "function") done();
  } catch (e) {
    console.error(e);
    if (mine === generation) showError(body, e && e.message ? e.message : String(e));
  }
}

function home() {
  document.title = "vidact explorer";
  const root = el("section", { class: "page home", id: "page-home" },
    el("h1", {}, "vidact explorer"),
    el("p", { class: "summary" },
      "One page per idea, each computed by vidact's own code and models while you look. Pick one."),
    el("ol", { class: "cards" }, ...pages.map((p) =>
      el("li", {}, el("a", { href: `#/${p.slug}` }, el("strong", {}, p.title), el("span", {}, p.summary))))));
  main.append(root);
  root.dataset.ready = "1";
}

init();
