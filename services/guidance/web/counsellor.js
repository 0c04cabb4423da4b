// The counsellor's page: sign in, open a learner's conversation by its code, pin, remove, search the catalogue
// and add for the learner, note, send a plan.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = Vux.el, t = Vux.t;
  let current = null;

  async function whoami() {
    try {
      const me = await Vux.api("GET", "/v1/counsellor/me");
      $("who").textContent = me.name;
      $("login-box").hidden = true;
      $("work").hidden = false;
      await listSessions();
    } catch (e) {
      $("login-box").hidden = false;
      $("work").hidden = true;
      $("session").hidden = true;
    }
  }

  async function listSessions() {
    const out = await Vux.api("GET", "/v1/counsellor/sessions");
    $("sessions").replaceChildren(...out.items.map((s) => el("li", {},
      el("button", {type: "button", class: "link", text: s.code + " (" + s.updated_at.slice(0, 16).replace("T", " ") + ")",
        onclick: () => show(s.code)}))));
  }

  async function show(code, opening) {
    const v = opening ? await Vux.api("POST", "/v1/counsellor/sessions", {code})
      : await Vux.api("GET", "/v1/counsellor/sessions/" + encodeURIComponent(code));
    current = v;
    $("session").hidden = false;
    $("session-h").textContent = t("transcript") + " " + v.code;
    $("profile").replaceChildren(...Vux.factItems(v.understood));
    $("transcript").replaceChildren(...v.transcript.map((m) => el("li", {class: "turn " + m.role},
      el("span", {class: "who", text: (m.role === "learner" ? t("learner") : t("assistant")) + ": "}),
      el("span", {class: "said", text: m.text}))));
    $("suggestions").replaceChildren(...v.suggestions.map((s) => {
      const pinned = s.mark === "pinned", removed = s.mark === "removed";
      const art = el("article", {class: "card " + s.kind + (removed ? " removed" : "")},
        el("p", {class: "kind", text: Vux.kindLabel(s.kind) + (s.course_code ? " · " + s.course_code : "") + (s.mark ? " · " + t("mark_" + s.mark) : "")}),
        el("h4", {text: s.title || ""}));
      for (const o of (s.occurrences || []).slice(0, 2)) art.append(el("p", {text: Vux.occurrenceLine(o)}));
      art.append(el("div", {class: "actions"},
        el("button", {type: "button", "aria-pressed": String(pinned), text: pinned ? t("unpin") : t("pin"),
          onclick: () => markIt(s, pinned ? null : "pinned")}), " ",
        el("button", {type: "button", "aria-pressed": String(removed), text: removed ? t("pin") : t("remove"),
          onclick: () => markIt(s, removed ? null : "removed")})));
      return el("li", {}, art);
    }));
    $("notes").replaceChildren(...(v.notes || []).map((n) => el("li", {text: n.counsellor + ": " + n.text})));
    $("session-h").focus && $("session-h").setAttribute("tabindex", "-1");
    await listSessions();
  }

  // Search the catalogue for the learner and add what fits, with a note the learner sees.
  async function find(ev) {
    ev.preventDefault();
    const text = $("find").value.trim(), status = $("find-status");
    status.textContent = "";
    if (!current || text.length < 2) return;
    try {
      const out = await Vux.api("POST", "/v1/counsellor/sessions/" + encodeURIComponent(current.code) + "/search", {text});
      if (!out.results.length) status.textContent = t("no_results");
      $("found").replaceChildren(...out.results.map((r, i) => {
        const noteId = "found-note-" + i;
        const note = el("input", {id: noteId, maxlength: "500"});
        const add = el("button", {type: "button", text: t("add_for_learner"), onclick: async () => {
          try {
            await Vux.api("POST", "/v1/counsellor/sessions/" + encodeURIComponent(current.code) + "/additions",
              {text, result_id: r.id, note: note.value.trim() || null});
            add.textContent = t("added");
            add.disabled = true;
            await show(current.code);
            add.focus();
          } catch (e) { status.textContent = t("error", {error: e.message}); }
        }});
        const place = r.municipality || ((r.occurrences || [])[0] || {}).municipality || "";
        return el("li", {}, el("article", {class: "card " + r.kind},
          el("p", {class: "kind", text: [Vux.kindLabel(r.kind), r.course_code, place].filter(Boolean).join(" · ")}),
          el("h4", {text: r.title || ""}),
          el("div", {class: "field"}, el("label", {for: noteId, text: t("note_for_learner")}), note),
          el("div", {class: "actions"}, add)));
      }));
    } catch (e) { status.textContent = t("error", {error: e.message}); }
  }

  async function markIt(s, mark) {
    await Vux.api("POST", "/v1/counsellor/sessions/" + encodeURIComponent(current.code) + "/marks", {result_id: s.id, mark});
    await show(current.code);
  }

  async function start() {
    await Vux.loadWords();
    Vux.setLang((navigator.language || "sv").slice(0, 2) === "en" ? "en" : "sv");
    $("lang").addEventListener("change", (e) => Vux.setLang(e.target.value));
    $("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("login-error").textContent = "";
      try {
        await Vux.api("POST", "/v1/counsellor/login", {username: $("username").value.trim(), password: $("password").value});
        $("password").value = "";
        await whoami();
      } catch (e) { $("login-error").textContent = e.message; }
    });
    $("logout").addEventListener("click", async () => { await Vux.api("POST", "/v1/counsellor/logout"); location.reload(); });
    $("open-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("open-error").textContent = "";
      try { await show($("code").value.trim(), true); $("session-h").focus(); } catch (e) { $("open-error").textContent = e.message; }
    });
    $("find-form").addEventListener("submit", find);
    $("note-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = $("note").value.trim();
      if (!text || !current) return;
      await Vux.api("POST", "/v1/counsellor/sessions/" + encodeURIComponent(current.code) + "/notes", {text});
      $("note").value = "";
      await show(current.code);
    });
    $("summary-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const st = $("summary-status");
      st.textContent = "";
      const email = $("s-email").value.trim();
      try {
        await Vux.api("POST", "/v1/counsellor/sessions/" + encodeURIComponent(current.code) + "/summary",
          {name: $("s-name").value.trim(), email, note: $("s-note").value.trim() || null});
        st.textContent = t("summary_sent", {email});
      } catch (e) { st.textContent = t("error", {error: e.message}); }
    });
    await whoami();
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
