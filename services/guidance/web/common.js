// Shared by the learner's and the counsellor's pages: words, requests, and safe DOM building.
// Everything that comes from a feed or a person is set as text, never as HTML.
"use strict";
const Vux = {
  words: {},
  lang: "sv",
  async loadWords() {
    const r = await fetch("/static/i18n.json");
    Vux.words = await r.json();
  },
  t(key, values) {
    const w = Vux.words;
    // Dari reads Persian where its own words are not yet written; every language then English, Swedish.
    let s = (w[Vux.lang] || {})[key] || (Vux.lang === "prs" ? (w.fa || {})[key] : null) ||
      (w.en || {})[key] || (w.sv || {})[key] || key;
    for (const [k, v] of Object.entries(values || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  },
  setLang(lang) {
    Vux.lang = Vux.words[lang] ? lang : "sv";
    document.documentElement.lang = Vux.lang;
    document.documentElement.dir = Vux.t("dir") === "rtl" ? "rtl" : "ltr";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = Vux.t(el.dataset.i18n);
    const sel = document.getElementById("lang");
    if (sel) sel.value = Vux.lang;
  },
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  },
  safeUrl(u) {
    try {
      const url = new URL(u, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  },
  async api(method, path, body, headers) {
    const opts = {method, headers: Object.assign({}, headers || {}), credentials: "same-origin"};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    if (!r.ok) {
      // In the page's language where there are words for it; the server's own detail otherwise.
      let words = Vux.t("http_" + r.status);
      if (words === "http_" + r.status) words = data.detail || r.statusText;
      else if (data.field) {  // which field, by the page's own label for it where there is one
        const name = String(data.field).split(".").pop();
        words += " (" + (Vux.t(name) !== name ? Vux.t(name) : name) + ")";
      }
      const err = new Error(words);
      err.detail = data.detail;
      err.status = r.status;
      throw err;
    }
    return data;
  },
  async municipalities() {
    return (await Vux.api("GET", "/v1/municipalities")).items;
  },
  occurrenceLine(o) {
    const bits = [];
    const where = [o.town, o.municipality].filter(Boolean);
    if (where.length) bits.push([...new Set(where)].join(", "));
    bits.push(o.distance ? Vux.t("distance") : Vux.t("on_site"));
    if (o.start) bits.push(Vux.t("start") + ": " + o.start);
    if (o.pace_percent) bits.push(Vux.t("pace") + ": " + o.pace_percent + " %");
    if (o.continuous_intake) bits.push(Vux.t("continuous"));
    else if (o.application_deadline) bits.push(Vux.t("deadline") + ": " + o.application_deadline);
    if (o.provider) bits.push(o.provider);
    return bits.join(" · ");
  },
  factItems(u) {
    // What was understood, one fact per line, each starting with a capital letter.
    return ((u && u.facts) || []).map((f) => Vux.el("li", {text: f.charAt(0).toUpperCase() + f.slice(1)}));
  },
  kindLabel(kind) {
    return Vux.t(kind === "validation" ? "validation" : kind === "learning_centre" ? "learning_centre" : "course");
  },
};
