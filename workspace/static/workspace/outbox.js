/* The check-in outbox, on every workspace page.

   A check-in written on the phone is kept in IndexedDB until the server has stored it: across
   reloads, sign-outs and expired sessions. It is sent from whichever page is open once there is a
   connection and the person who wrote it is signed in (after signing in again if the session has
   expired meanwhile), and a bar at the foot of the screen says how many wait. Each draft carries its
   idempotency key and the time "save" was tapped, so a resend never stores it twice and the stored
   time is the contact's, not the sending's. This script also registers the service worker that
   keeps the visit's pages for opening offline.

   A draft: {key, user, username, url, fields, occurredAt, queued, error, savedAt}. One not yet
   queued is a form being filled in (checkin.js); a queued one waits to be sent. */
(function () {
  "use strict";
  var bar = document.getElementById("outbox");
  var configElement = document.getElementById("outbox-config");
  if (!bar || !configElement || !window.indexedDB || !window.fetch || !window.Promise) return;
  var config = JSON.parse(configElement.textContent);
  var texts = config.texts;
  var notice = document.getElementById("outbox-notice");
  var waiting = document.getElementById("outbox-waiting");
  var DB = "workspace-outbox", STORE = "drafts", PAGES = "workspace-pages";
  var NEXT_NOTICE = "workspace-outbox-notice", LAST_USER = "workspace-outbox-user";
  // Django's CSRF cookie (CSRF_COOKIE_NAME is left at its default). Read at each send: signing in
  // again gives a new one, and a page kept offline holds the old.
  var CSRF_COOKIE = "csrftoken";
  var signedOut = false;
  var chain = Promise.resolve();

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }

  // --- IndexedDB ---------------------------------------------------------------------------------
  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, {keyPath: "key"}); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function transact(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(STORE, mode);
        var request = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { db.close(); resolve(request.result); };
        transaction.onerror = transaction.onabort = function () { db.close(); reject(transaction.error); };
      });
    });
  }
  function all() { return transact("readonly", function (store) { return store.getAll(); }); }
  function put(draft) { return transact("readwrite", function (store) { return store.put(draft); }); }
  function remove(key) { return transact("readwrite", function (store) { return store.delete(key); }); }

  // --- the bar -----------------------------------------------------------------------------------
  function fitBar() {
    // The bar is fixed to the foot of the screen: the page gets room below so nothing hides under it.
    document.body.style.paddingBottom = bar.offsetHeight ? bar.offsetHeight + "px" : "";
  }
  function notify(text, kind) {
    notice.textContent = text || "";
    notice.className = kind || "";
    notice.hidden = !text;
    if (text) {
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link";
      close.textContent = texts.close;
      close.addEventListener("click", function () { notify(""); });
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(close);
    }
    fitBar();
  }
  function line(text, href, linkText) {
    var item = document.createElement("span");
    item.className = "outbox-line";
    if (text) item.appendChild(document.createTextNode(text));
    if (href) {
      if (text) item.appendChild(document.createTextNode(" "));
      var link = document.createElement("a");
      link.href = href;
      link.textContent = linkText;
      item.appendChild(link);
    }
    return item;
  }
  function signInHref() {
    return config.login + "?next=" + encodeURIComponent(window.location.pathname + window.location.search);
  }
  function refresh() {
    return all().then(function (drafts) {
      var queued = drafts.filter(function (d) { return d.queued; });
      var mine = config.user ? queued.filter(function (d) { return d.user === config.user; }) : [];
      var others = config.user ? queued.filter(function (d) { return d.user !== config.user; }) : [];
      var failed = mine.filter(function (d) { return d.error; });
      var lines = [];
      if (!config.user && queued.length) {
        var count = {n: queued.length};
        if (config.unknown) lines.push(line(format(texts.waiting, count)));
        else if (window.location.pathname === config.login) lines.push(line(format(texts.signin, count)));
        else lines.push(line("", signInHref(), format(texts.signin, count)));
      } else if (mine.length > failed.length) {
        var n = {n: mine.length - failed.length};
        lines.push(signedOut ? line("", signInHref(), format(texts.signin, n)) : line(format(texts.waiting, n)));
      }
      failed.forEach(function (d) { lines.push(line(format(texts.failed, {reason: d.error}), d.url, texts.open)); });
      var byUser = {};
      others.forEach(function (d) { byUser[d.username] = (byUser[d.username] || 0) + 1; });
      Object.keys(byUser).forEach(function (name) { lines.push(line(format(texts.others, {n: byUser[name], user: name}))); });
      waiting.textContent = "";
      lines.forEach(function (item) { waiting.appendChild(item); });
      waiting.hidden = !lines.length;
      fitBar();
    }).catch(function () { /* no IndexedDB here (a private window): nothing can wait */ });
  }

  // --- sending -----------------------------------------------------------------------------------
  function csrfToken() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + CSRF_COOKIE + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  function post(draft) {
    var body = new FormData();
    Object.keys(draft.fields || {}).forEach(function (name) { body.append(name, draft.fields[name]); });
    body.set("key", draft.key);
    body.set("occurred_at", draft.occurredAt);
    return fetch(draft.url, {method: "POST", body: body, credentials: "same-origin",
                             headers: {"Accept": "application/json", "X-CSRFToken": csrfToken()}})
      .then(function (response) {
        // An expired session lands on the sign-in page: the draft stays for after signing in.
        if (response.redirected && new URL(response.url).pathname === config.login) return {state: "signed-out"};
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (response.ok && json) return response.json().then(function (answer) { return {state: "saved", answer: answer}; });
        if (response.status === 400 && json) {
          return response.json().then(function (answer) { return {state: "refused", reason: answer.message}; });
        }
        if (response.status >= 500 || response.status === 429 || response.status === 408) return {state: "later"};
        return {state: "refused", reason: format(texts.refused, {status: response.status})};
      }, function () { return {state: "offline"}; });
  }
  function sendAll() {
    var report = {results: {}, sent: 0, last: null};
    if (!config.user || navigator.onLine === false) return Promise.resolve(report);
    return all().then(function (drafts) {
      var mine = drafts.filter(function (d) { return d.queued && !d.error && d.user === config.user; });
      function next(index) {
        if (index >= mine.length) return null;
        var draft = mine[index];
        return post(draft).then(function (result) {
          report.results[draft.key] = result;
          if (result.state === "saved") {
            signedOut = false;
            report.sent += 1;
            report.last = result.answer;
            return remove(draft.key).then(function () { return next(index + 1); });
          }
          if (result.state === "refused") {
            draft.error = result.reason;
            return put(draft).then(function () { return next(index + 1); });
          }
          if (result.state === "signed-out") signedOut = true;
          return null;  // no connection, a busy server or no session: the rest waits as well
        });
      }
      return next(0);
    }).then(function () {
      if (report.sent) {
        document.dispatchEvent(new CustomEvent("outbox:sent", {detail: report}));
      }
      return report;
    });
  }
  // One send at a time, in order: a background send and a "save" never post the same draft at once.
  function flush() {
    var run = chain.then(sendAll);
    chain = run.catch(function () { return null; }).then(refresh);
    return run;
  }

  // --- what a page shows first -------------------------------------------------------------------
  function adoptLegacyDrafts() {
    // Drafts an earlier version kept in localStorage ("checkin-draft:<family>", sent only when the
    // family's form was opened again) move into the outbox, as the signed-in person's: a saved one
    // to be sent, one being filled in to be found again in its form.
    if (!config.user || !window.localStorage) return Promise.resolve();
    var moves = [];
    for (var i = localStorage.length - 1; i >= 0; i -= 1) {
      var name = localStorage.key(i);
      var match = /^checkin-draft:(\d+)$/.exec(name || "");
      if (!match) continue;
      var old = null;
      try { old = JSON.parse(localStorage.getItem(name)); } catch (e) { old = null; }
      localStorage.removeItem(name);
      if (!old || !old.fields || !old.fields.key) continue;
      var fields = old.fields;
      moves.push(put({key: fields.key, user: config.user, username: config.username, queued: !!old.pending, error: null,
                      url: config.checkin.replace("/0/", "/" + match[1] + "/"), fields: fields,
                      occurredAt: old.pending ? new Date(old.saved || Date.now()).toISOString() : null, savedAt: old.saved || Date.now()}));
    }
    return Promise.all(moves);
  }
  function forgetPagesOfAnotherUser() {
    // Pages kept for one person are never shown to the next: signing out drops them (sw.js); a
    // session that expired and someone else signing in on the same phone drops them here.
    if (!config.user || !window.localStorage || !window.caches) return;
    var last = localStorage.getItem(LAST_USER);
    if (last && last !== config.user) caches.delete(PAGES);
    localStorage.setItem(LAST_USER, config.user);
  }

  window.workspaceOutbox = {
    user: config.user,
    username: config.username,
    all: all,
    put: function (draft) { return put(draft).then(refresh); },
    remove: function (key) { return remove(key).then(refresh); },
    flush: flush,
    notify: notify,
    // A confirmation for the page about to be opened (the page it is shown on has not loaded yet).
    notifyNext: function (text) { try { sessionStorage.setItem(NEXT_NOTICE, text); } catch (e) { notify(text, "saved"); } },
  };

  document.addEventListener("outbox:sent", function (event) {
    var report = event.detail;
    if (document.getElementById("checkin-form")) return;  // the form says it itself (checkin.js)
    notify(report.sent === 1 ? report.last.message : format(texts.sent, {n: report.sent}), "saved");
  });
  window.addEventListener("online", flush);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
  setInterval(flush, 20000);

  var pending;
  try { pending = sessionStorage.getItem(NEXT_NOTICE); sessionStorage.removeItem(NEXT_NOTICE); } catch (e) { pending = null; }
  if (pending) notify(pending, "saved");
  forgetPagesOfAnotherUser();
  adoptLegacyDrafts().then(flush, flush);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.sw, {scope: "/"}).catch(function () { /* works online as before */ });
  }
})();
