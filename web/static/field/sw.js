/* geoint field app: the service worker (scope /field/). It keeps the app shell and its assets,
   the vocabularies, the gazetteer, the basemap and the inbox, so that the app opens and works
   without network (docs/field.md). Requests that change state always go to the network: the
   page's queue (IndexedDB) sends them when it is back. */
"use strict";

// the digest of the app's files, written in by the server: a new release is a new worker,
// which drops the caches of the one before
const VERSION = "__VERSION__";
const SHELL = "geoint-field-shell-" + VERSION;
const DATA = "geoint-field-data-" + VERSION;
const ASSETS = [
  "/static/web/field/app.js",
  "/static/web/field/queue.js",
  "/static/web/field/field.css",
  "/static/web/vendor/leaflet/leaflet.js",
  "/static/web/vendor/leaflet/leaflet.css",
];
// answers kept for use offline, refreshed from the network whenever it answers
const DATA_PATHS = ["/api/v1/vocabularies", "/api/v1/places", "/api/v1/inbox",
                    "/field/basemap.json"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(ASSETS))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names
      .filter((n) => n.startsWith("geoint-field-") && n !== SHELL && n !== DATA)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// The page asks to keep what it loaded before this worker controlled it: itself and its data.
self.addEventListener("message", (event) => {
  const urls = (event.data && event.data.keep) || [];
  event.waitUntil(Promise.all(urls.map(async (address) => {
    const url = new URL(address, self.location.origin);
    if (url.origin !== self.location.origin) { return; }
    const cache = await caches.open(DATA_PATHS.includes(url.pathname) ? DATA : SHELL);
    try {
      await cache.add(url.href);
    } catch (error) {
      // not kept this time (offline, signed out): the next visit keeps it
    }
  })));
});

async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) { await cache.put(request, response.clone()); }
    return response;  // a 401 (signed out) goes to the page: it sends the user to sign in
  } catch (error) {
    const kept = await cache.match(request) || await cache.match(request, {ignoreSearch: true});
    if (kept) { return kept; }
    throw error;
  }
}

async function cacheFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  const kept = await cache.match(request);
  if (kept) { return kept; }
  const response = await fetch(request);
  if (response.ok) { await cache.put(request, response.clone()); }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname.startsWith("/field/")) {
    event.respondWith(networkFirst(request, SHELL));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(cacheFirst(request, SHELL));
  } else if (DATA_PATHS.includes(url.pathname)) {
    event.respondWith(networkFirst(request, DATA));
  } else if (url.pathname.startsWith("/api/v1/photos/")) {
    event.respondWith(cacheFirst(request, DATA));  // a photo's bytes never change
  }
});
