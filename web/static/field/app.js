/* geoint field app: the simplified seizure form, the queue that sends it when the network is
   back, the sector's alert inbox and the concealment library (docs/field.md). Every text from
   the server or the user is written with textContent, never as HTML. */

import * as queue from "./queue.js";

const config = JSON.parse(document.getElementById("field-config").textContent);
const T = config.text;
const API = config.urls.api;
const LANG = config.lang;
const JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"};
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 60000;
const FORM_FIELDS = ["commodity", "quantity", "unit", "transport_mode", "vehicle_type",
                     "concealment", "detection_method", "direction", "vehicle_id", "description"];

const $ = (id) => document.getElementById(id);
const state = {vocabularies: {}, places: [], here: null, editing: null, photos: [],
               retryMs: RETRY_MIN_MS, retryTimer: null, flushing: null, inbox: []};

/** An element with its class and its text (as text). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  return node;
}

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in values ? values[name] : m));
}

function localTime(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso)
    : when.toLocaleString(LANG, {dateStyle: "medium", timeStyle: "short"});
}

/** The great-circle distance in km (haversine on a 6371 km sphere). */
function distanceKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2
    + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

// ------------------------------------------------------------------------ sections, status
function show(section) {
  const name = ["new", "queue", "inbox", "library"].includes(section) ? section : "new";
  document.querySelectorAll(".section").forEach((s) => {
    s.hidden = s.id !== "section-" + name;
  });
  document.querySelectorAll(".tab").forEach((t) => {
    t.setAttribute("aria-current", t.dataset.section === name ? "page" : "false");
  });
  if (name === "inbox") { locate(); }
}

function showNetwork() {
  const net = $("net");
  net.textContent = navigator.onLine ? T.online : T.offline;
  net.classList.toggle("offline", !navigator.onLine);
}

function notice(text, link) {
  const box = $("notice");
  box.replaceChildren(el("span", "", text));
  if (link) {
    const a = el("a", "", link.text);
    a.href = link.href;
    box.append(" ", a);
  }
  box.hidden = !text;
}

// ------------------------------------------------------------------------ data kept offline
async function getJSON(url) {
  const response = await fetch(url, {headers: {"Accept": "application/json"}});
  if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
  return response.json();
}

async function loadVocabularies() {
  try {
    state.vocabularies = await getJSON(API + "/vocabularies?lang=" + LANG);
  } catch (error) {
    state.vocabularies = {};
  }
  document.querySelectorAll("select").forEach((select) => {
    const terms = state.vocabularies[select.name];
    if (!Array.isArray(terms)) {
      // no vocabulary from this server (or none kept yet): the field takes free text
      const input = el("input");
      input.type = "text";
      input.id = select.id;
      input.name = select.name;
      input.autocomplete = "off";
      select.replaceWith(input);
      return;
    }
    terms.forEach((term) => {
      const option = el("option", "", term.label);
      option.value = term.code;
      select.append(option);
    });
  });
}

async function loadPlaces() {
  try {
    state.places = (await getJSON(API + "/places")).places || [];
  } catch (error) {
    state.places = [];
  }
}

function placeKey(name) {
  return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").trim().toLowerCase();
}

function suggestPlaces() {
  const typed = placeKey($("f-where").value);
  const list = $("places");
  if (typed.length < 2 || /\d/.test(typed)) { list.replaceChildren(); return; }
  const found = state.places.filter((p) => placeKey(p.name).startsWith(typed)).slice(0, 20);
  list.replaceChildren(...found.map((p) => {
    const option = el("option");
    option.value = p.name;
    option.label = p.name + (p.country ? " (" + p.country + ")" : "");
    return option;
  }));
}

// ------------------------------------------------------------------------ position
function setPosition(lat, lon) {
  $("f-where").value = lat.toFixed(5) + ", " + lon.toFixed(5);
  fieldError("position", "");
  if (state.marker) { state.marker.setLatLng([lat, lon]); }
}

function useGps() {
  $("err-position").textContent = T.gpsWaiting;
  navigator.geolocation.getCurrentPosition(
    (p) => { state.here = {lat: p.coords.latitude, lon: p.coords.longitude};
             setPosition(p.coords.latitude, p.coords.longitude); },
    (error) => fieldError("position", T.gpsFailed + error.message),
    {enableHighAccuracy: true, timeout: 30000, maximumAge: 60000});
}

function locate() {
  if (!navigator.geolocation) { return; }
  navigator.geolocation.getCurrentPosition((p) => {
    state.here = {lat: p.coords.latitude, lon: p.coords.longitude};
    renderInbox();
  }, () => {}, {timeout: 30000, maximumAge: 300000});
}

async function togglePickMap() {
  const box = $("pickmap");
  box.hidden = !box.hidden;
  if (box.hidden || state.map) { return; }
  const L = window.L;
  state.map = L.map(box, {zoomControl: true, attributionControl: false})
    .fitBounds(config.view);
  state.marker = L.marker(state.map.getCenter(), {keyboard: false});
  try {
    const base = await getJSON(config.urls.basemap);
    L.geoJSON(base.countries, {interactive: false, style: (f) => ({
      fillColor: f.properties.colour, fillOpacity: 1, color: "#7a6f55", weight: 1})})
      .addTo(state.map);
    L.geoJSON(base.coast, {interactive: false, style: {color: "#2f6f9f", weight: 1.5}})
      .addTo(state.map);
    L.geoJSON(base.rivers, {interactive: false, style: {color: "#4f8fc4", weight: 1}})
      .addTo(state.map);
    L.geoJSON(base.towns, {interactive: false, pointToLayer: (f, at) =>
      L.circleMarker(at, {radius: 3, color: "#333", weight: 1, fillOpacity: 1})})
      .addTo(state.map);
  } catch (error) {
    // the map still takes taps without its basemap
  }
  state.map.on("click", (e) => {
    state.marker.addTo(state.map);
    setPosition(e.latlng.lat, e.latlng.lng);
  });
}

// ------------------------------------------------------------------------ the form
function fieldError(name, text) {
  const slot = $("err-" + name);
  if (!slot) { return; }
  slot.textContent = text || "";
  const field = slot.closest(".field");
  if (field) { field.classList.toggle("invalid", Boolean(text)); }
}

function clearErrors() {
  document.querySelectorAll("#seizure .error").forEach((e) => {
    e.textContent = "";
    e.closest(".field").classList.remove("invalid");
  });
}

function localInputValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

/** The record the form holds and its client-side errors ({field: text}). */
function readForm() {
  const errors = {};
  const record = {};
  const dateText = $("f-date").value;
  const when = new Date(dateText);
  if (!dateText) {
    errors.date = T.required;
  } else if (Number.isNaN(when.getTime())) {
    errors.date = T.badDate;
  } else if (when.getTime() > Date.now()) {
    errors.date = T.future;
  } else {
    record.date = when.toISOString();
  }
  const where = $("f-where").value.trim();
  if (!where) {
    errors.position = T.noPosition;
  } else if (/\d/.test(where)) {
    record.position = where;  // any notation the server reads (decimal, DMS, ...)
  } else {
    record.place = where;
    const key = placeKey(where);
    if (state.places.length && !state.places.some((p) => placeKey(p.name) === key)) {
      errors.position = T.unknownPlace;
    }
  }
  FORM_FIELDS.forEach((name) => {
    const value = $("f-" + name).value.trim();
    if (value) { record[name] = value; }
  });
  if (record.quantity !== undefined) {
    const number = Number(record.quantity.replace(",", "."));
    if (!/^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(record.quantity) || !Number.isFinite(number)) {
      errors.quantity = T.notNumber;
    } else if (number < 0) {
      errors.quantity = T.negative;
    } else {
      record.quantity = number;
    }
  }
  return {record, errors};
}

/** The server's findings on `record` without storing it ({field: text}; {} when offline: the
    queue then meets them when it sends). */
async function serverErrors(record) {
  if (!navigator.onLine) { return {}; }
  try {
    const response = await fetch(API + "/seizures?dry_run=true", {
      method: "POST", headers: JSON_HEADERS, body: JSON.stringify([record])});
    if (!response.ok) { return {}; }
    const outcome = ((await response.json()).records || [])[0];
    return outcome && outcome.status === "refused" ? errorsByField(outcome.errors) : {};
  } catch (error) {
    return {};
  }
}

const POSITION_FIELDS = ["lat", "lon", "position", "place"];

function errorsByField(errors) {
  const found = {};
  (errors || []).forEach((e) => {
    const field = POSITION_FIELDS.includes(e.field) ? "position" : e.field;
    found[field] = [found[field], e.detail || e.reason].filter(Boolean).join("; ");
  });
  return found;
}

/** Show each error at its field; those of no field of the form are returned as one text. */
function showErrors(errors) {
  clearErrors();
  const elsewhere = [];
  Object.entries(errors).forEach(([name, text]) => {
    if ($("err-" + name)) { fieldError(name, text); } else { elsewhere.push(name + ": " + text); }
  });
  const first = document.querySelector("#seizure .invalid");
  if (first) { first.scrollIntoView({block: "center"}); }
  return elsewhere.join("; ");
}

async function save(event) {
  event.preventDefault();
  $("saved").textContent = "";
  const {record, errors} = readForm();
  const previous = state.editing;
  const clientId = previous ? previous.client_id : crypto.randomUUID();
  const seizureId = previous ? previous.seizure_id : "F-" + clientId.slice(0, 18);
  const full = {seizure_id: seizureId, client_id: clientId, ...record};
  if (!Object.keys(errors).length) { Object.assign(errors, await serverErrors(full)); }
  if (Object.keys(errors).length) {
    $("saved").textContent = [T.fieldErrors, showErrors(errors)].filter(Boolean).join(": ");
    $("saved").classList.add("bad");
    return;
  }
  $("saved").classList.remove("bad");
  clearErrors();
  await queue.put("records", {client_id: clientId, seizure_id: seizureId, record: full,
    body: JSON.stringify([full]), status: "queued", errors: [],
    created: previous ? previous.created : Date.now()});
  for (const file of state.photos) {
    await queue.put("photos", {id: crypto.randomUUID(), client_id: clientId, blob: file,
                               name: file.name, status: "queued", error: ""});
  }
  resetForm();
  $("saved").textContent = format(T.savedQueued, {id: seizureId});
  await renderQueue();
  flush();
}

function resetForm() {
  $("seizure").reset();
  $("f-date").value = localInputValue(new Date());
  state.photos = [];
  state.editing = null;
  $("discard-edit").hidden = true;
  renderPhotos();
}

function renderPhotos() {
  $("photo-list").replaceChildren(...state.photos.map((file, i) => {
    const item = el("li", "", file.name);
    const remove = el("button", "secondary small", T.removePhoto);
    remove.type = "button";
    remove.addEventListener("click", () => { state.photos.splice(i, 1); renderPhotos(); });
    item.append(" ", remove);
    return item;
  }));
}

function edit(item) {
  resetForm();
  state.editing = item;
  const record = item.record;
  if (record.date) { $("f-date").value = localInputValue(new Date(record.date)); }
  $("f-where").value = record.position || record.place || "";
  FORM_FIELDS.forEach((name) => {
    if (record[name] !== undefined) { $("f-" + name).value = String(record[name]); }
  });
  $("discard-edit").hidden = false;
  location.hash = "new";
  $("saved").textContent = showErrors(errorsByField(item.errors));
}

// ------------------------------------------------------------------------ sending the queue
function flush() {
  if (state.flushing === null) {
    state.flushing = sendAll().finally(() => { state.flushing = null; });
  }
  return state.flushing;
}

function retryLater() {
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(flush, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
}

async function sendAll() {
  const records = (await queue.all("records")).sort((a, b) => a.created - b.created);
  for (const item of records) {
    if (item.status === "queued" || item.status === "sending") {
      if (!(await sendRecord(item))) { retryLater(); return; }
    }
    if (item.status === "sent") {
      for (const photo of await queue.photosOf(item.client_id)) {
        if (photo.status === "queued" && !(await sendPhoto(item, photo))) {
          retryLater();
          return;
        }
        if (photo.placing === "queued" && !(await sendPlacing(item, photo))) {
          retryLater();
          return;
        }
      }
    }
  }
  state.retryMs = RETRY_MIN_MS;
  await renderQueue();
}

/** Send one record; false when it must be tried again later (network, server busy). */
async function sendRecord(item) {
  item.status = "sending";
  await queue.put("records", item);
  await renderQueue();
  let response;
  try {
    response = await fetch(API + "/seizures", {method: "POST", headers: JSON_HEADERS,
                                                body: item.body});
  } catch (error) {
    return requeue(item);
  }
  if (response.status === 401) {
    notice(T.signedOut, {text: T.signIn, href: config.urls.login});
    return requeue(item);
  }
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    return requeue(item);
  }
  let body = {};
  try { body = await response.json(); } catch (error) { return requeue(item); }
  Object.assign(item, outcome(response.status, body, item));
  await queue.put("records", item);
  await renderQueue();
  return true;
}

async function requeue(item) {
  item.status = "queued";
  await queue.put("records", item);
  await renderQueue();
  return false;
}

/** The record's status and errors from the server's answer to its one-record batch. */
function outcome(status, body, item) {
  const one = (body.records || [])[0];
  if (one) {
    if (one.status === "stored" || one.status === "duplicate") {
      return {status: "sent", seizure_id: one.seizure_id || item.seizure_id, errors: []};
    }
    return {status: "refused", errors: one.errors || []};
  }
  if (status === 200 && (body.accepted > 0 || body.duplicates > 0)) {
    return {status: "sent", errors: []};  // a resend: the server already had it
  }
  const rows = (body.problem && body.problem.errors) || body.errors || [];
  const errors = rows.map((r) => ({field: r.column || r.field || "", reason: r.reason || "",
                                   detail: r.detail || ""}));
  if (!errors.length) { errors.push({field: "", reason: "", detail: body.detail || status}); }
  return {status: "refused", errors};
}

/** Upload one queued photo of a stored record; false when it must be tried again later. */
async function sendPhoto(item, photo) {
  const form = new FormData();
  form.append("file", photo.blob, photo.name || "photo.jpg");
  form.append("client_id", photo.id);
  let response;
  try {
    response = await fetch(API + "/seizures/" + encodeURIComponent(item.seizure_id) + "/photos",
                           {method: "POST", body: form, headers: {"Accept": "application/json"}});
  } catch (error) {
    return false;
  }
  if (response.status === 401 || response.status >= 500 || response.status === 429) {
    return false;
  }
  if (response.ok) {
    photo.status = "sent";
    // the photo's GPS position, offered when the record gave a place, not coordinates
    const answer = await response.json();
    const offered = answer.exif_position;
    photo.serverId = answer.id;
    photo.offer = offered ? offered.lat.toFixed(5) + ", " + offered.lon.toFixed(5) : "";
  } else {
    let detail = String(response.status);
    try { detail = (await response.json()).detail || detail; } catch (error) { /* no body */ }
    photo.status = "refused";
    photo.error = detail;
  }
  await queue.put("photos", photo);
  await renderQueue();
  return true;
}

/** Give the record the position of its sent photo (queued like the rest: the tap may come
    offline); false when it must be tried again later. */
async function sendPlacing(item, photo) {
  let response;
  try {
    response = await fetch(API + "/seizures/" + encodeURIComponent(item.seizure_id) + "/position",
                           {method: "POST", headers: JSON_HEADERS,
                            body: JSON.stringify({photo_id: photo.serverId})});
  } catch (error) {
    return false;
  }
  if (response.status === 401 || response.status >= 500 || response.status === 429) {
    return false;
  }
  if (response.ok) {
    photo.placing = "placed";
    photo.error = "";
  } else {
    let detail = String(response.status);
    try { detail = (await response.json()).detail || detail; } catch (error) { /* no body */ }
    photo.placing = "refused";
    photo.error = detail;
  }
  await queue.put("photos", photo);
  await renderQueue();
  return true;
}

/** Queue the use of a photo's GPS position for its record, and send it when online. */
async function usePhotoPosition(photo) {
  photo.placing = "queued";
  await queue.put("photos", photo);
  await renderQueue();
  flush();
}

// ------------------------------------------------------------------------ my queue
function label(field, code) {
  const term = (state.vocabularies[field] || []).find((t) => t.code === code);
  return term ? term.label : code;
}

async function renderQueue() {
  const records = (await queue.all("records")).sort((a, b) => b.created - a.created);
  const photos = await queue.all("photos");
  const waiting = records.filter((r) => r.status !== "sent").length;
  $("count-queue").textContent = waiting ? " " + waiting : "";
  const list = $("queue");
  if (!records.length) { list.replaceChildren(el("li", "muted", T.emptyQueue)); return; }
  list.replaceChildren(...records.map((item) => {
    const r = item.record;
    const card = el("li", "card record " + item.status);
    card.dataset.clientId = item.client_id;
    const head = el("div", "head");
    head.append(el("strong", "", [label("commodity", r.commodity), r.quantity,
                                  label("unit", r.unit)].filter((v) => v !== undefined)
                                  .join(" ") || item.seizure_id),
                el("span", "badge " + item.status, T[item.status]));
    card.append(head, el("p", "muted", item.seizure_id + " · " + localTime(r.date)));
    const where = r.position || r.place;
    if (where) { card.append(el("p", "", where)); }
    if (r.vehicle_id) { card.append(el("p", "", r.vehicle_id)); }
    if (r.description) { card.append(el("p", "description", r.description)); }
    if (item.errors.length) {
      const errors = el("ul", "errors");
      item.errors.forEach((e) => errors.append(el("li", "", [e.field, e.detail || e.reason]
        .filter(Boolean).join(": "))));
      card.append(errors);
    }
    const own = photos.filter((p) => p.client_id === item.client_id);
    if (own.length) {
      const list = el("ul", "photos");
      own.forEach((p) => {
        const text = {queued: T.photoQueued, sent: T.photoSent, refused: T.photoRefused};
        const offer = p.offer ? format(T.photoPosition, {position: p.offer}) : "";
        const placing = {queued: T.positionQueued, placed: T.positionUsed,
                         refused: T.positionRefused}[p.placing];
        const line = el("li", "photo " + p.status, [p.name, text[p.status], offer, placing,
                                                    p.error].filter(Boolean).join(" · "));
        if (p.offer && !p.placing && p.serverId) {
          const use = el("button", "secondary small use-position", T.usePosition);
          use.type = "button";
          use.addEventListener("click", () => usePhotoPosition(p));
          line.append(" ", use);
        }
        list.append(line);
      });
      card.append(list);
    }
    if (item.status === "refused") {
      const actions = el("div", "actions");
      const fix = el("button", "primary", T.fix);
      fix.type = "button";
      fix.addEventListener("click", () => edit(item));
      const discard = el("button", "secondary", T.discard);
      discard.type = "button";
      discard.addEventListener("click", async () => {
        for (const p of own) { await queue.remove("photos", p.id); }
        await queue.remove("records", item.client_id);
        renderQueue();
      });
      actions.append(fix, discard);
      card.append(actions);
    }
    return card;
  }));
}

// ------------------------------------------------------------------------ inbox
async function loadInbox() {
  $("inbox-state").textContent = T.loading;
  try {
    state.inbox = (await getJSON(config.urls.inbox + "?lang=" + LANG)).alerts;
    $("inbox-state").textContent = navigator.onLine ? "" : T.inboxOffline;
  } catch (error) {
    $("inbox-state").textContent = T.inboxOffline;
  }
  renderInbox();
}

function renderInbox() {
  const alerts = state.inbox;
  $("count-inbox").textContent = alerts.length ? " " + alerts.length : "";
  if (!alerts.length) { $("inbox").replaceChildren(el("li", "muted", T.noAlerts)); return; }
  $("inbox").replaceChildren(...alerts.map((a) => {
    const card = el("li", "card alert " + a.severity.toLowerCase());
    card.dataset.alert = a.id;
    const head = el("div", "head");
    head.append(el("strong", "", a.title), el("span", "badge " + a.status, a.status_text));
    card.append(head, el("p", "reason", [a.kind, a.reason].filter(Boolean).join(": ")));
    const facts = [a.severity_text, localTime(a.event_time)];
    if (state.here) {
      facts.push(format(T.away, {km: distanceKm(state.here, a).toFixed(1)}));
    }
    card.append(el("p", "muted", facts.join(" · ")));
    card.append(el("p", "muted", [T.sector + " " + a.sector,
      a.vehicles.length ? T.vehicles + " " + a.vehicles.join(", ") : ""]
      .filter(Boolean).join(" · ")));
    const note = el("textarea", "note");
    note.rows = 2;
    note.maxLength = 4000;
    note.placeholder = T.note;
    note.setAttribute("aria-label", T.note);
    const actions = el("div", "actions");
    const verbs = a.status === "new" ? ["ack"] : ["resolve", "dismiss"];
    verbs.forEach((verb) => {
      const button = el("button", verb === "ack" || verb === "resolve" ? "primary" : "secondary",
                        T[verb]);
      button.type = "button";
      button.dataset.verb = verb;
      button.addEventListener("click", () => change(a, verb, note.value, card));
      actions.append(button);
    });
    const result = el("p", "error");
    result.setAttribute("role", "alert");
    card.append(note, actions, result);
    return card;
  }));
}

async function change(alert, verb, note, card) {
  const result = card.querySelector(".error");
  result.textContent = "";
  try {
    const response = await fetch(API + "/alerts/" + alert.id + "/" + verb, {
      method: "POST", headers: JSON_HEADERS, body: JSON.stringify({note})});
    if (!response.ok) {
      let detail = String(response.status);
      try { detail = (await response.json()).detail || detail; } catch (e) { /* no body */ }
      result.textContent = T.actionFailed + detail;
      return;
    }
  } catch (error) {
    result.textContent = T.actionFailed + T.offline;
    return;
  }
  await loadInbox();
}

function listenForAlerts() {
  if (!window.EventSource) { return; }
  let pending = null;
  const stream = new EventSource(API + "/alerts/stream");
  stream.addEventListener("open", () => {
    document.body.dataset.live = "true";
    loadInbox();  // what changed between the first load and the stream's start
  });
  stream.addEventListener("error", () => { document.body.dataset.live = "false"; });
  stream.addEventListener("alert", () => {
    clearTimeout(pending);
    pending = setTimeout(loadInbox, 300);  // a burst of changes is one reload
  });
}

// ------------------------------------------------------------------------ library
async function loadLibrary(event) {
  if (event) { event.preventDefault(); }
  const params = new URLSearchParams();
  new FormData($("library-filter")).forEach((value, name) => {
    if (String(value).trim()) { params.append(name, String(value).trim()); }
  });
  params.set("limit", "60");
  $("library-state").textContent = T.loading;
  let found;
  try {
    found = await getJSON(API + "/concealments?" + params.toString());
  } catch (error) {
    $("library-state").textContent = T.libraryOffline;
    return;
  }
  const seizures = found.concealments;
  $("library-state").textContent = seizures.length ? "" : T.noPhotos;
  $("library").replaceChildren(...seizures.map((s) => {
    const card = el("li", "card concealment");
    card.dataset.seizure = s.seizure_id;
    s.photos.slice(0, 4).forEach((p) => {
      const img = el("img", "thumb");
      img.src = p.thumbnail;
      img.alt = [label("concealment", s.concealment), s.seizure_id].filter(Boolean).join(" · ");
      img.loading = "lazy";
      card.append(img);
    });
    card.append(el("strong", "", [label("concealment", s.concealment),
      label("commodity", s.commodity)].filter(Boolean).join(" · ")));
    card.append(el("p", "muted", [label("vehicle_type", s.vehicle_type), s.seizure_id,
      localTime(s.ts)].filter(Boolean).join(" · ")));
    if (s.description) { card.append(el("p", "description", s.description)); }
    return card;
  }));
}

// ------------------------------------------------------------------------ start
/** Ask the worker to keep what was loaded before it controlled the page. */
function keepForOffline(registration) {
  const urls = config.urls;
  registration.active.postMessage({keep: [location.pathname + location.search,
    API + "/vocabularies?lang=" + LANG, API + "/places", urls.inbox + "?lang=" + LANG,
    urls.basemap]});
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.urls.serviceWorker, {scope: config.urls.scope})
      .then(() => navigator.serviceWorker.ready).then(keepForOffline).catch(() => {});
  }
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    location.hash = tab.dataset.section;
  }));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  window.addEventListener("online", () => { showNetwork(); state.retryMs = RETRY_MIN_MS;
                                            flush(); loadInbox(); });
  window.addEventListener("offline", showNetwork);
  showNetwork();
  show(location.hash.slice(1));
  $("f-date").value = localInputValue(new Date());
  $("seizure").addEventListener("submit", save);
  $("discard-edit").addEventListener("click", resetForm);
  $("gps").addEventListener("click", useGps);
  $("pick").addEventListener("click", togglePickMap);
  $("f-where").addEventListener("input", suggestPlaces);
  $("f-photos").addEventListener("change", (e) => {
    state.photos.push(...e.target.files);
    e.target.value = "";
    renderPhotos();
  });
  $("library-filter").addEventListener("submit", loadLibrary);
  await Promise.all([loadVocabularies(), loadPlaces()]);
  document.body.dataset.ready = "true";
  await renderQueue();
  flush();
  loadInbox();
  listenForAlerts();
  if (navigator.onLine) { loadLibrary(); }
}

start();
