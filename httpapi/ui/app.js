// idp web UI: plain JavaScript, no build step, no network beyond this server.
"use strict";

const STAGES = [
  ["ocr_extraction", "OCR"],
  ["account_splitting", "Accounts"],
  ["page_analysis", "Pages"],
  ["llm_extraction", "Extraction"],
];
const PRIORITIES = ["high", "normal", "low"];
const FIELDS = ["Account_Number", "Account_Holders", "Phone_Number", "Address"];

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the page's CSP
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};

let token = localStorage.getItem("idp-token") || "";
let events = null;

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401) {
    askToken();
    throw new Error("the server wants an API token");
  }
  const ct = res.headers.get("Content-Type") || "";
  const body = ct.includes("json") ? await res.json() : null;
  if (!res.ok) throw new Error((body && body.error) || res.statusText);
  return body;
}

function askToken() {
  const d = $("#token-dialog");
  if (d.open) return;
  $("#token-input").value = token;
  d.showModal();
}

$("#token-btn").addEventListener("click", askToken);
$("#token-dialog").addEventListener("close", () => {
  if ($("#token-dialog").returnValue !== "ok") return;
  token = $("#token-input").value.trim();
  localStorage.setItem("idp-token", token);
  connectEvents();
  route();
});

// --- live events ---

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 300);
}

function connectEvents() {
  if (events) events.close();
  const url = "/api/events" + (token ? "?access_token=" + encodeURIComponent(token) : "");
  events = new EventSource(url);
  for (const type of ["queued", "started", "stage", "page", "completed", "failed", "requeued", "deleted", "priority"]) {
    events.addEventListener(type, (e) => onEvent(type, JSON.parse(e.data)));
  }
}

function onEvent(type, ev) {
  scheduleRefresh();
  if (current.doc && ev.doc_id === current.doc && current.page !== null && (type === "page" || type === "completed")) {
    if (ev.page === current.page || type === "completed") showPage(current.doc, current.page, false);
  }
}

// --- routing ---

const current = { doc: null, page: null };

function route() {
  const m = location.hash.match(/^#\/doc\/([0-9a-f]{24})(?:\/page\/(\d+))?/);
  if (m) {
    current.doc = m[1];
    current.page = m[2] !== undefined ? Number(m[2]) : null;
    $("#view-list").hidden = true;
    $("#view-doc").hidden = false;
    loadDoc(current.doc).then(() => {
      if (current.page !== null) showPage(current.doc, current.page, true);
    });
  } else {
    current.doc = null;
    current.page = null;
    $("#view-doc").hidden = true;
    $("#view-list").hidden = false;
    loadList();
  }
  loadProcessor();
}
window.addEventListener("hashchange", route);

function refresh() {
  if (current.doc) loadDoc(current.doc);
  else loadList();
  loadProcessor();
}

// --- list ---

function stageBars(stages) {
  return el("div", { class: "bars" }, STAGES.map(([key, label]) => {
    const s = (stages && stages[key]) || { status: "pending", progress: 0 };
    return el("div", { class: "bar " + s.status, title: `${label}: ${s.status} ${s.progress}%` },
      el("small", { text: label }),
      el("div", { class: "track" }, el("div", { class: "fill", style: `width:${s.progress}%` })));
  }));
}

async function loadList() {
  let body;
  try {
    const status = $("#status-filter").value;
    body = await api("/api/documents?limit=100" + (status ? "&status=" + status : ""));
  } catch (e) {
    return;
  }
  // One request per refresh: each row of the listing carries its stage bars.
  const rows = body.documents.map((d) =>
    el("tr", { "data-doc": d.doc_id, onclick: () => { location.hash = `#/doc/${d.doc_id}`; } },
      el("td", {}, el("div", { class: "name", text: d.file_name }), el("div", { class: "id", text: d.doc_id })),
      el("td", { text: d.pages || "–" }),
      el("td", { text: PRIORITIES[d.priority] || d.priority }),
      el("td", {}, el("span", { class: "badge " + d.status, "data-status": d.status, text: d.status })),
      el("td", {}, stageBars(d.stages)),
      el("td", { text: new Date(d.updated_at).toLocaleTimeString() })));
  $("#doc-rows").replaceChildren(...rows);
  $("#docs-empty").hidden = rows.length > 0;
}
$("#status-filter").addEventListener("change", loadList);

// --- upload ---

async function upload(files) {
  const msgs = $("#upload-msgs");
  const password = $("#upload-password").value;
  for (const f of files) {
    const form = new FormData();
    if (password) form.append("password", password); // before the file: the server streams the upload
    form.append("file", f, f.name);
    const line = el("div", { text: `Uploading ${f.name}…` });
    msgs.prepend(line);
    try {
      const body = await api("/api/documents", { method: "POST", body: form });
      const d = body.documents[0];
      line.className = "ok";
      line.textContent = `${f.name}: ${d.existing ? "already known" : "queued"} (priority ${PRIORITIES[d.priority]})`;
    } catch (e) {
      line.className = "bad";
      line.textContent = `${f.name}: ${e.message}`;
    }
  }
  loadList();
}
const drop = $("#drop");
$("#file-input").addEventListener("change", (e) => { upload([...e.target.files]); e.target.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload([...e.dataTransfer.files]); });

// --- processor ---

async function loadProcessor() {
  let body;
  try { body = await api("/api/background-processor/status"); } catch (e) { return; }
  const s = body.status;
  $("#proc-pill").textContent = `${s.running ? "running" : "stopped"} · ${s.busy_workers}/${s.workers} busy · ${s.queue.length} queued`;
  const dl = $("#proc-stats");
  const rows = [
    ["Workers", `${s.busy_workers} busy of ${s.workers} (${s.page_workers} page workers)`],
    ["Queue", `${s.queue.length} (high ${s.queue.by_priority.high}, normal ${s.queue.by_priority.normal}, low ${s.queue.by_priority.low})`],
    ["Completed", `${s.documents.completed || 0} documents`],
    ["Failed", `${s.documents.failed || 0} documents`],
    ["Pages OCR'd", `${s.totals.ocr_pages} (text layer ${s.totals.text_layer_pages})`],
    ["Uptime", `${Math.round(s.uptime_seconds)} s`],
  ];
  const w = body.worker_processes;
  if (w) rows.push(["Worker processes", `${w.alive} alive (${w.busy} busy); since start ${w.started} started, ${w.recycled} recycled, ` +
    `${w.died} died (${w.timed_out} past the page time limit, ${w.out_of_memory} out of memory), ${w.quarantined} pages given up`]);
  if (body.outbox) rows.push(["S3 outbox", `${body.outbox.count ?? body.outbox.pending ?? 0} pending`]);
  if (body.llm) rows.push(["LLM", `${body.llm.breaker || body.llm.state || "on"}`]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  $("#proc-active").replaceChildren(...(s.active_documents || []).map((a) =>
    el("div", {}, el("a", { href: `#/doc/${a.doc_id}`, text: a.file_name }), ` · ${a.stage} ${a.progress}%`)));
}
$("#restart-btn").addEventListener("click", async () => {
  try { await api("/api/background-processor/restart", { method: "POST" }); } catch (e) { alert(e.message); }
  loadProcessor();
});

// --- document ---

let docData = null;

async function loadDoc(id) {
  let body;
  try { body = await api(`/api/document/${id}`); } catch (e) {
    $("#doc-title").textContent = e.message;
    return;
  }
  docData = body;
  const d = body.document, st = body.status;
  $("#doc-title").textContent = d.file_name;
  $("#doc-meta").replaceChildren(
    el("span", { class: "badge " + d.status, id: "doc-status", "data-status": d.status, text: d.status }),
    el("span", { text: `${st.progress}%` }),
    el("span", { text: `${d.pages || "?"} pages` }),
    el("span", { text: `priority ${PRIORITIES[d.priority]}` }),
    el("span", { text: `attempts ${d.attempts}` }),
    ...(body.tokens && body.tokens.prompt_tokens ? [el("span", { text: `${body.tokens.prompt_tokens + body.tokens.completion_tokens} model tokens` })] : []),
    el("span", { class: "id", text: d.doc_id }));
  $("#result-link").href = `/api/document/${id}/result`;
  $("#doc-stages").replaceChildren(...STAGES.map(([key, label]) => {
    const s = st.stages[key];
    return el("div", { class: "stage bar " + s.status },
      el("h3", {}, `${label} `, el("span", { class: "badge " + s.status, text: s.status })),
      el("div", { class: "track" }, el("div", { class: "fill", style: `width:${s.progress}%` })),
      el("p", { text: key === "account_splitting" ? (s.status === "completed" ? `${(body.accounts || []).length} accounts found` : "")
        : s.total_pages ? `${s.pages_processed} of ${s.total_pages} pages` : "" }));
  }), ...(d.error ? [el("div", { class: "error-box", style: "grid-column: 1 / -1", text: d.error })] : []));

  showNotes(id, d);

  const acc = $("#doc-accounts");
  const inAccount = new Set();
  const cards = (body.accounts || []).map((a) => {
    a.pages.forEach((p) => inAccount.add(p));
    return el("div", { class: "acct" },
      el("div", { class: "num", text: a.account_number }),
      el("div", { class: "holders", text: (a.holders || []).join(", ") || "no holder found" }),
      el("div", { class: "chips" }, a.pages.map((p) => pageChip(id, p))));
  });
  const others = [];
  for (let p = 0; p < (d.pages || 0); p++) if (!inAccount.has(p)) others.push(p);
  if (others.length && body.accounts && body.accounts.length) {
    cards.push(el("div", { class: "acct" }, el("div", { class: "holders", text: "Pages without an account" }),
      el("div", { class: "chips" }, others.map((p) => pageChip(id, p)))));
  }
  if (!cards.length) {
    const all = [];
    for (let p = 0; p < (d.pages || 0); p++) all.push(p);
    cards.push(el("p", { class: "empty", text: "Accounts appear after OCR." }), el("div", { class: "chips" }, all.map((p) => pageChip(id, p))));
  }
  acc.replaceChildren(el("h2", { text: `Accounts (${(body.accounts || []).length})` }), ...cards);
}

// showNotes lists what went wrong without stopping the document (warnings, pages that could
// not be read) and, for a document that failed for want of its password, asks for it.
function showNotes(id, d) {
  const notes = [];
  if (d.warnings && d.warnings.length) {
    notes.push(el("div", { class: "warn-box", id: "doc-warnings" }, el("strong", { text: "Warnings" }),
      el("ul", {}, d.warnings.map((w) => el("li", { text: w })))));
  }
  if (d.failed_pages && d.failed_pages.length) {
    notes.push(el("div", { class: "error-box", id: "doc-failed-pages" },
      el("strong", { text: `${d.failed_pages.length} page${d.failed_pages.length > 1 ? "s" : ""} could not be read` }),
      el("ul", {}, d.failed_pages.map((f) => el("li", { "data-page": f.page, text: `p.${f.page + 1}: ${f.reason}` })))));
  }
  if (d.status === "failed" && (d.error || "").startsWith("encrypted:")) {
    const input = el("input", { type: "password", class: "password", id: "doc-password", autocomplete: "off", placeholder: "password" });
    const unlock = async () => {
      const form = new URLSearchParams();
      form.set("password", input.value);
      try { await api(`/api/document/${id}/reprocess`, { method: "POST", body: form }); } catch (e) { alert(e.message); }
      refresh();
    };
    notes.push(el("div", { class: "warn-box" }, el("strong", { text: "This PDF is encrypted." }),
      el("div", { class: "unlock" }, input, el("button", { type: "button", id: "unlock-btn", onclick: unlock, text: "Open with password" }))));
  }
  const box = $("#doc-notes");
  if (box.contains(document.activeElement)) return; // someone is typing the password
  box.replaceChildren(...notes);
  box.hidden = notes.length === 0;
}

function pageChip(id, p) {
  const d = docData && docData.document;
  const failed = d && (d.failed_pages || []).some((f) => f.page === p);
  return el("button", { type: "button", class: "chip" + (current.page === p ? " sel" : "") + (failed ? " failed" : ""), "data-page": p,
    text: `p.${p + 1}`, title: failed ? "this page could not be read" : null,
    onclick: () => { location.hash = `#/doc/${id}/page/${p}`; } });
}

async function showPage(id, page, extractNow) {
  const view = $("#page-view");
  const img = el("img", { alt: `page ${page + 1}`, src: "" });
  const fields = el("div", { class: "fields" }, el("p", { class: "empty", text: "Loading…" }));
  if (!view.querySelector(`img[data-page="${page}"]`)) {
    img.setAttribute("data-page", page);
    view.replaceChildren(el("div", {}, img), fields);
    loadImage(img, id, page);
  } else {
    view.replaceChild(fields, view.lastChild);
  }
  let body;
  try {
    body = await api(`/api/document/${id}/page/${page}/${extractNow ? "extract" : "cached-data"}`);
  } catch (e) {
    fields.replaceChildren(el("h2", { text: `Page ${page + 1}` }), el("span", { class: "badge failed", "data-badge": "failed", text: "failed" }),
      el("p", { class: "error-box", text: e.message }));
    return;
  }
  const badge = body.error ? "failed" : body.blank ? "blank" : !body.cached && body.processing ? "processing" :
    body.provisional ? "provisional" : body.cached ? "cached" : "failed";
  const label = badge === "cached" ? "cached" : badge === "provisional" ? "provisional" : badge;
  const rows = FIELDS.concat(Object.keys(body.data || {}).filter((k) => !FIELDS.includes(k))).map((k) => {
    const v = body.data ? body.data[k] : undefined;
    const text = Array.isArray(v) ? v.join(", ") : v;
    return el("tr", {}, el("th", { text: k.replace(/_/g, " ") }),
      el("td", { class: text ? "" : "none", "data-field": k, text: text || "not on this page" }));
  });
  fields.replaceChildren(
    el("h2", {}, `Page ${page + 1} `, el("span", { class: "badge " + badge, "data-badge": badge, text: label })),
    el("div", { class: "sub", text: body.data ? `account ${body.account_number || "none"} · ${body.source || ""} · ${body.extractor || ""}` :
      `${body.stage} ${body.progress}% (${body.pages_processed}/${body.total_pages} pages)` }),
    body.error ? el("p", { class: "error-box", id: "page-error", text: "This page could not be read: " + body.error }) :
      body.blank ? el("p", { class: "empty", text: "Nothing is printed on this page." }) :
      body.data ? el("table", {}, el("tbody", {}, rows)) : el("p", { class: "empty", text: "This page is not processed yet." }),
    ...(body.flags ? [el("p", { class: "sub", text: "Flags: " + body.flags.join("; ") })] : []));
  document.querySelectorAll(".chip").forEach((c) => c.classList.toggle("sel", Number(c.dataset.page) === page));
}

async function loadImage(img, id, page) {
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const res = await fetch(`/api/document/${id}/page/${page}/image?dpi=100`, { headers });
    if (!res.ok) throw new Error(res.statusText);
    img.src = URL.createObjectURL(await res.blob());
  } catch (e) {
    img.alt = "page image unavailable: " + e.message;
  }
}

async function docAction(path, method, confirmText) {
  if (confirmText && !confirm(confirmText)) return;
  try { await api(path, { method }); } catch (e) { alert(e.message); }
  refresh();
}
$("#force-btn").addEventListener("click", () => docAction(`/api/document/${current.doc}/force-background-processing`, "POST"));
$("#reprocess-btn").addEventListener("click", () => docAction(`/api/document/${current.doc}/reprocess`, "POST", "Drop the cached results and process this document again?"));
$("#delete-btn").addEventListener("click", async () => {
  await docAction(`/api/document/${current.doc}`, "DELETE", "Delete this document, its file and its results?");
  location.hash = "#/";
});

connectEvents();
route();
setInterval(loadProcessor, 10000);
