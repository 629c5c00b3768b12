/* The workspace's service worker. It keeps the pages of a visit (Today, the families, their check-in
   forms) as they were last shown, so that they open without a connection, and the static files
   they need. Every request goes to the network first: a kept copy answers only when the network
   does not, so nobody works from an old page while there is signal. Signing out drops every kept
   page; the check-ins waiting to be sent live in the outbox (outbox.js), not here. */
"use strict";
const CONFIG = {{ config|safe }};
const PAGES = "workspace-pages";
const STATIC = "workspace-static-{{ version }}";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC)
    .then((cache) => cache.addAll(CONFIG.precache.concat([CONFIG.offline])))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names
      .filter((name) => name.startsWith("workspace-static-") && name !== STATIC)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

function kept(url) {
  return CONFIG.pages.some((prefix) => url.pathname.startsWith(prefix));
}

async function networkFirst(event, cacheName, page) {
  try {
    const response = await fetch(event.request);
    // Only a page as it was shown: no redirect (to the sign-in page), no error, nothing opaque.
    if (response.ok && response.type === "basic" && !response.redirected) {
      const copy = response.clone();
      event.waitUntil(caches.open(cacheName).then((cache) => cache.put(event.request, copy)));
    }
    return response;
  } catch (error) {
    // Not by Vary: the page was kept for this person (the kept pages go at sign-out), and the
    // cookies it varies on change all the time (a new CSRF cookie, a message read) without
    // making it another person's page.
    const copy = await caches.match(event.request, {cacheName, ignoreVary: true});
    if (copy) return copy;
    if (page) return (await caches.match(CONFIG.offline, {ignoreVary: true})) || Response.error();
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === CONFIG.logout) {
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.startsWith(CONFIG.static)) {
    event.respondWith(networkFirst(event, STATIC, false));
  } else if (request.mode === "navigate" && kept(url)) {
    event.respondWith(networkFirst(event, PAGES, true));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(async () => (await caches.match(CONFIG.offline, {ignoreVary: true}))
      || Response.error()));
  }
});
