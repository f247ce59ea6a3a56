// Piket's service worker: keeps the app shell for offline starts, and turns a tap on a page's
// notification (or its Acknowledge action) into an acknowledgement in the open Piket tab — or
// opens the incident with an acknowledge intent when no tab is open.
const CACHE = "piket-shell-v1";

async function cacheShell() {
  const cache = await caches.open(CACHE);
  const response = await fetch("/index.html", { cache: "no-cache" });
  const html = await response.clone().text();
  await cache.put("/index.html", response);
  // Trunk names the script, wasm and stylesheet by content hash; cache whatever index.html links.
  const assets = new Set(["/icon.svg", "/icon-192.png", "/icon-512.png", "/manifest.webmanifest", "/clock-worker.js"]);
  for (const match of html.matchAll(/(?:href|src)="(\/[^"]+)"/g)) assets.add(match[1]);
  // The screens' lazily loaded modules, named by the split loader the page preloads, so that
  // every screen opens offline after the first visit.
  for (const url of [...assets].filter((a) => /\/lazy-[0-9a-f]+\/loader\.js$/.test(a))) {
    const dir = url.slice(0, url.lastIndexOf("/") + 1);
    const loader = await fetch(url).then((r) => (r.ok ? r.text() : "")).catch(() => "");
    for (const m of loader.matchAll(/"\.\/([\w.-]+\.wasm)"/g)) assets.add(dir + m[1]);
  }
  await Promise.all([...assets].map((url) => cache.add(url).catch(() => undefined)));
}

self.addEventListener("install", (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // The phone acknowledgement page (/ack/) is its own self-contained file: let the browser
    // fetch it normally, and never let it overwrite the cached app shell.
    if (url.pathname === "/ack" || url.pathname.startsWith("/ack/") || url.pathname === "/ack.html") return;
    // Network first (a new version when online); the cached shell when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((c) => c.put("/index.html", copy));
          }
          return response;
        })
        .catch(() => caches.match("/index.html"))
    );
    return;
  }
  event.respondWith(
    caches.match(request).then((hit) => hit || fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((c) => c.put(request, copy));
      }
      return response;
    }))
  );
});

// What a tap on a notification does: acknowledge through an open Piket tab, or open the
// incident (with an acknowledge intent for the Acknowledge action).
async function handleNotificationClick(data, action) {
  const incident = data && data.incident;
  const person = data && data.person;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (action === "ack" && incident && person) {
    if (windows.length > 0) {
      windows[0].postMessage({ type: "ack", incident, person });
      if (windows[0].focus) await windows[0].focus().catch(() => undefined);
      return "posted";
    }
    await self.clients.openWindow(`/#/incidents/${encodeURIComponent(incident)}?ack=1&by=${encodeURIComponent(person)}&from=notification`);
    return "opened";
  }
  const target = (data && data.url) || "/";
  if (windows.length > 0) {
    windows[0].postMessage({ type: "open", incident });
    if (windows[0].focus) await windows[0].focus().catch(() => undefined);
    return "focused";
  }
  await self.clients.openWindow(target);
  return "opened";
}

self.addEventListener("notificationclick", (event) => {
  const data = event.notification.data;
  event.notification.close();
  event.waitUntil(handleNotificationClick(data, event.action));
});

// Tests (and a page that wants to act on a notification it lists) can ask for the same handling
// of a shown notification by its tag.
self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type !== "click-notification") return;
  event.waitUntil(
    self.registration.getNotifications({ tag: msg.tag }).then(async (list) => {
      const n = list[0];
      if (!n) return;
      const data = n.data;
      n.close();
      await handleNotificationClick(data, msg.action || "");
    })
  );
});
