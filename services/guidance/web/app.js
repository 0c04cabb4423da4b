// The learner's chat page: one conversation, its suggestions, and an application.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = Vux.el, t = Vux.t;
  const state = {sessionId: null, suggestions: [], choices: [], marks: {}, lastLang: null, manualLang: false,
                 expanded: new Set()};

  function readHash() {
    const m = /(?:^#|&)s=([A-Za-z0-9_-]{16,100})/.exec(location.hash);
    return m ? m[1] : null;
  }

  function setStatus(text) { $("status").textContent = text || ""; }

  function addTurn(role, text) {
    const who = role === "learner" ? t("you") : t("assistant");
    $("transcript").append(el("li", {class: "turn " + role},
      el("span", {class: "who", text: who + ": "}), el("span", {class: "said", text})));
  }

  function renderUnderstood(u) {
    const box = $("understood-box");
    if (!u || !u.summary) { box.hidden = true; return; }
    box.hidden = false;
    $("understood").replaceChildren(...Vux.factItems(u));
    if (u.home_municipality) $("a-home").value = u.home_municipality.code;
  }

  // `focusId`: the button just pressed keeps the focus after the cards are drawn again.
  function renderSuggestions(list, focusId) {
    state.suggestions = list || [];
    const ul = $("suggestions");
    ul.replaceChildren();
    $("no-sugg").hidden = state.suggestions.length > 0;
    state.suggestions.forEach((s, i) => ul.append(card(s, i)));
    document.querySelector(".to-apply").parentElement.hidden = !state.suggestions.length || !state.sessionId;
    const again = focusId && document.getElementById(focusId);
    if (again) again.focus();
  }

  function card(s, i) {
    const titleId = "s-title-" + i;
    const why = el("p", {class: "why", id: "s-why-" + i, hidden: true, text: s.explanation || (s.why || []).join(", ")});
    const whyBtn = el("button", {type: "button", "aria-expanded": "false", "aria-controls": "s-why-" + i,
      text: t("why"), onclick: () => {
        why.hidden = !why.hidden;
        whyBtn.setAttribute("aria-expanded", String(!why.hidden));
      }});
    const saved = s.mark === "saved" || s.mark === "pinned";
    const saveBtn = el("button", {type: "button", "aria-pressed": String(saved), text: saved ? t("saved") : t("save"),
      id: "save-" + s.id, onclick: () => mark(s, saved ? null : "saved")});
    const hideBtn = el("button", {type: "button", text: t("hide"), onclick: () => mark(s, "hidden")});
    const art = el("article", {class: "card " + s.kind, "aria-labelledby": titleId},
      el("p", {class: "kind", text: [s.step ? t("step") + " " + s.step : null, Vux.kindLabel(s.kind), s.course_code]
        .filter(Boolean).join(" · ")}),
      s.fit && s.mark !== "removed" ? el("p", {class: "fit fit-" + (s.closest ? "closest" : s.fit),
                       text: t(s.closest ? "fit_closest" : "fit_" + s.fit)}) : null,
      ["added", "pinned", "removed"].includes(s.mark) ? el("p", {class: "by-counsellor", text: t("mark_" + s.mark)}) : null,
      el("h3", {id: titleId, text: s.title || ""}),
      s.note ? el("p", {class: "note", text: t("counsellor_note") + ": " + s.note}) : null);
    if (s.mark === "removed") {  // shown so the learner knows; not offered any more
      art.classList.add("removed");
      return el("li", {}, art);
    }
    if (s.kind === "course") {
      // Compact: the nearest time only; the others on demand, so the form and the code stay within reach.
      const occ = el("ul", {class: "occurrences"});
      const all = (s.occurrences || []).slice(0, 5), open = state.expanded.has(s.id);
      for (const o of all.slice(0, open ? 5 : 1)) {
        const chosen = state.choices.some((c) => c.id === o.id);
        const li = el("li", {}, el("span", {text: Vux.occurrenceLine(o)}));
        const url = o.url && Vux.safeUrl(o.url);
        if (url) li.append(" ", el("a", {href: url, rel: "noopener noreferrer", target: "_blank", text: t("more_info")}));
        li.append(" ", el("button", {type: "button", class: "choose", "aria-pressed": String(chosen),
          id: "choose-" + o.id, text: chosen ? t("chosen") : t("choose"),
          "aria-label": t("choose") + ": " + (s.title || "") + ", " + Vux.occurrenceLine(o),
          onclick: () => choose(s, o)}));
        occ.append(li);
      }
      art.append(occ);
      if (all.length > 1) {
        art.append(el("button", {type: "button", class: "more-times", id: "times-" + s.id, "aria-expanded": String(open),
          text: open ? t("fewer_times") : t("more_times", {n: all.length - 1}), onclick: () => {
            if (open) state.expanded.delete(s.id); else state.expanded.add(s.id);
            renderSuggestions(state.suggestions, "times-" + s.id);
          }}));
      }
    } else if (s.municipality || s.town) {
      art.append(el("p", {text: [s.town, s.municipality].filter(Boolean).join(", ")}));
    }
    if (s.learning_centre) {
      const c = s.learning_centre;
      art.append(el("p", {class: "centre", text: t("nearest_centre") + ": " + [c.name, c.town || c.municipality].filter(Boolean).join(", ")}));
    }
    // What a counsellor added or pinned is kept already: no save button to undo it by mistake.
    const kept = s.mark === "added" || s.mark === "pinned";
    art.append(el("div", {class: "actions"}, whyBtn, " ", kept ? null : saveBtn, " ", hideBtn), why);
    return el("li", {}, art);
  }

  async function mark(s, value) {
    try {
      await Vux.api("POST", "/v1/chat/marks", {session_id: state.sessionId, result_id: s.id, mark: value});
      if (value === "hidden") {
        renderSuggestions(state.suggestions.filter((x) => x.id !== s.id));
        $("sugg-h").focus();  // the card is gone: back to the list's heading
      } else { s.mark = value; renderSuggestions(state.suggestions, "save-" + s.id); }
    } catch (e) { setStatus(t("error", {error: e.message})); }
  }

  function choose(s, o) {
    const at = state.choices.findIndex((c) => c.id === o.id);
    if (at >= 0) state.choices.splice(at, 1);
    else if (state.choices.length < 5) state.choices.push({id: o.id, label: (s.title || "") + " – " + Vux.occurrenceLine(o)});
    renderChoices();
    renderSuggestions(state.suggestions, "choose-" + o.id);
  }

  function renderChoices() {
    const ol = $("choices");
    ol.replaceChildren();
    $("apply").hidden = !state.sessionId;
    state.choices.forEach((c, i) => {
      const move = (d) => { const j = i + d; [state.choices[i], state.choices[j]] = [state.choices[j], state.choices[i]]; renderChoices(); };
      ol.append(el("li", {}, el("span", {text: c.label}), " ",
        el("button", {type: "button", text: "↑", "aria-label": t("move_up"), disabled: i === 0, onclick: () => move(-1)}),
        el("button", {type: "button", text: "↓", "aria-label": t("move_down"), disabled: i === state.choices.length - 1, onclick: () => move(1)}),
        el("button", {type: "button", text: t("remove"), onclick: () => { state.choices.splice(i, 1); renderChoices(); renderSuggestions(state.suggestions); }})));
    });
  }

  function showSession(code) {
    $("session-box").hidden = !state.sessionId;
    $("apply").hidden = !state.sessionId;
    if (!state.sessionId) return;
    $("code").textContent = code || "";
    const link = location.origin + location.pathname + "#s=" + state.sessionId;
    $("link").href = link;
    $("link").textContent = link;
  }

  function adoptLang(lang) {
    if (lang && lang !== Vux.lang) { Vux.setLang(lang); renderSuggestions(state.suggestions); renderChoices(); }
  }

  async function send(ev) {
    ev.preventDefault();
    const text = $("message").value.trim();
    if (!text) { $("message").focus(); return; }
    await say(text, text, ev.submitter || $("chat-form").querySelector("button"));
    $("message").focus();
  }

  // One turn: `text` goes to the assistant, `shown` is what the transcript shows (a button's label).
  async function say(text, shown, btn) {
    setStatus(t("sending"));
    if (btn) btn.disabled = true;
    try {
      const body = {session_id: state.sessionId, message: text};
      if (state.manualLang) body.lang = Vux.lang;
      const out = await Vux.api("POST", "/v1/chat", body);
      const first = !state.sessionId;
      state.sessionId = out.session_id;
      if (first) history.replaceState(null, "", "#s=" + out.session_id);
      adoptLang(out.lang);
      addTurn("learner", shown);
      addTurn("assistant", [out.reply, out.question].filter(Boolean).join(" "));
      renderQuick(out.quick_replies || []);
      renderUnderstood(out.understood);
      renderSuggestions(out.suggestions);
      showSession(out.code);
      if (text === $("message").value.trim()) $("message").value = "";
      setStatus(out.notice || "");
    } catch (e) {
      setStatus(t("error", {error: e.message}));
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  // The question's answers as buttons: a learner who is not understood in their own words can still answer.
  function renderQuick(items) {
    const box = $("quick");
    box.replaceChildren();
    box.hidden = !items.length;
    if (!items.length) return;
    box.append(el("p", {text: t("quick")}));
    for (const q of items) {
      box.append(el("button", {type: "button", class: "quick-reply", text: q.label, onclick: async (e) => {
        const b = e.currentTarget;
        await say(q.message, q.label, b);
        const next = $("quick").querySelector("button");
        (next || $("message")).focus();
      }}));
    }
  }

  async function load() {
    try {
      const v = await Vux.api("GET", "/v1/chat/session", undefined, {"X-Chat-Session": state.sessionId});
      adoptLang(v.lang);
      for (const m of v.transcript) addTurn(m.role, m.text);
      renderUnderstood(v.understood);
      renderSuggestions(v.suggestions);
      showSession(v.code);
      if (v.applications.length) showReceipt(v.applications[v.applications.length - 1]);
    } catch (e) {
      state.sessionId = null;
      history.replaceState(null, "", location.pathname);
      setStatus(t("error", {error: e.message}));
    }
  }

  function showReceipt(a) {
    const r = $("receipt");
    r.replaceChildren(el("h3", {text: t("receipt")}));
    let text = t("receipt_sent");
    // The same short reference as in the e-mails (its first eight characters).
    if (a.status === "received") text = t("receipt_received", {id: String(a.application_id).slice(0, 8)});
    if (a.status === "rejected") text = t("receipt_rejected", {reason: a.reason || ""});
    r.append(el("p", {class: "receipt-" + a.status, text}));
  }

  async function pollReceipt(submissionId) {
    for (let i = 0; i < 40; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      try {
        const v = await Vux.api("GET", "/v1/chat/session", undefined, {"X-Chat-Session": state.sessionId});
        const a = v.applications.find((x) => x.submission_id === submissionId);
        if (a && a.status !== "sent") { showReceipt(a); return; }
      } catch (e) { return; }
    }
  }

  async function apply(ev) {
    ev.preventDefault();
    const err = $("apply-error");
    err.textContent = "";
    if (!state.choices.length) { err.textContent = t("choose_first"); return; }
    const f = ev.target;
    for (const input of [f.name, f.email, f.home]) {
      if (!input.checkValidity()) { err.textContent = input.labels[0].textContent + ": " + input.validationMessage; input.focus(); return; }
    }
    if (!f.consent.checked) { err.textContent = t("consent"); f.consent.focus(); return; }
    const submissionId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9]/g, "");
    try {
      const out = await Vux.api("POST", "/v1/chat/apply", {
        session_id: state.sessionId, submission_id: submissionId, consent: true,
        choices: state.choices.map((c) => c.id),
        applicant: {name: f.name.value.trim(), email: f.email.value.trim(), home_municipality: f.home.value,
          education_level: f.education.value, employment: f.employment.value,
          lang: ["sv", "en", "ar", "fa", "prs", "so", "ti"].includes(Vux.lang) ? Vux.lang : "sv"},
      });
      showReceipt(out);
      $("receipt").focus && $("receipt").setAttribute("tabindex", "-1");
      $("receipt").focus();
      pollReceipt(out.submission_id);
    } catch (e) { err.textContent = t("error", {error: e.message}); }
  }

  async function forget() {
    if (!confirm(t("forget_confirm"))) return;
    try {
      await Vux.api("DELETE", "/v1/chat/session", undefined, {"X-Chat-Session": state.sessionId});
    } catch (e) { setStatus(t("error", {error: e.message})); return; }
    reset();
    setStatus(t("forgotten"));
  }

  function reset() {
    state.sessionId = null; state.choices = [];
    history.replaceState(null, "", location.pathname);
    $("transcript").replaceChildren(); $("receipt").replaceChildren();
    renderSuggestions([]); renderChoices(); renderUnderstood(null); showSession(null);
  }

  async function start() {
    await Vux.loadWords();
    const wanted = (navigator.language || "sv").slice(0, 2);
    Vux.setLang(["sv", "en", "ar", "fa", "prs", "so", "ti"].includes(wanted) ? wanted : "sv");
    const home = $("a-home");
    // No silent default: until the conversation or the learner says, the form asks for the home municipality.
    home.append(el("option", {value: "", "data-i18n": "choose_home", text: t("choose_home"), disabled: true, selected: true}));
    for (const m of await Vux.municipalities()) home.append(el("option", {value: m.code, text: m.name}));
    $("lang").addEventListener("change", (e) => { state.manualLang = true; adoptLang(e.target.value); });
    // The skip link focuses the message box without touching the URL fragment (it holds the session).
    document.querySelector(".skip").addEventListener("click", (e) => { e.preventDefault(); $("message").focus(); });
    // To the form without touching the URL fragment (it holds the session).
    document.querySelector(".to-apply").addEventListener("click", (e) => {
      e.preventDefault();
      $("apply-h").setAttribute("tabindex", "-1");
      $("apply-h").scrollIntoView();
      $("apply-h").focus();
    });
    $("chat-form").addEventListener("submit", send);
    $("message").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); }
    });
    $("apply-form").addEventListener("submit", apply);
    $("forget").addEventListener("click", forget);
    $("new-chat").addEventListener("click", () => { reset(); $("message").focus(); });
    state.sessionId = readHash();
    if (state.sessionId) await load();
    renderSuggestions(state.suggestions);
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
