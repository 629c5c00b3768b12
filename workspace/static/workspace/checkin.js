/* Check-in form that survives a dropped connection: every change is kept in localStorage under the
   family's key, a submit made offline is kept as "pending" and sent when the browser is online again.
   The hidden idempotency key travels with the draft, so the server stores one check-in however
   often the same draft is sent. */
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form || !window.localStorage || !window.fetch) return;
  var key = form.getAttribute("data-draft-key");
  var status = document.getElementById("draft-status");
  var texts = JSON.parse(document.getElementById("draft-messages").textContent);
  var sending = false;

  function show(text) { status.textContent = text || ""; status.hidden = !text; }
  function read() { try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } }
  function save(pending) {
    var fields = {};
    new FormData(form).forEach(function (value, name) { if (name !== "csrfmiddlewaretoken") fields[name] = value; });
    localStorage.setItem(key, JSON.stringify({fields: fields, pending: !!pending, saved: Date.now()}));
  }
  function restore(draft) {
    Object.keys(draft.fields || {}).forEach(function (name) {
      var element = form.elements[name];
      if (element) element.value = draft.fields[name];
    });
  }
  function send() {
    if (sending) return;
    sending = true;
    show(texts.sending);
    fetch(form.getAttribute("action") || window.location.href, {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (response) {
        sending = false;
        if (response.ok && response.redirected) {
          localStorage.removeItem(key);
          window.location.href = response.url;
          return;
        }
        // The server answered with the form and its errors: show them, keep the draft.
        return response.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("checkin-form");
          if (fresh) form.innerHTML = fresh.innerHTML;
          save(false);
          show("");
        });
      })
      .catch(function () { sending = false; save(true); show(texts.offline); });
  }
  function retry() { var draft = read(); if (draft && draft.pending && navigator.onLine !== false) send(); }

  form.addEventListener("input", function () { save(false); });
  form.addEventListener("change", function () { save(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    save(true);
    if (navigator.onLine === false) { show(texts.offline); return; }
    send();
  });
  window.addEventListener("online", retry);
  setInterval(retry, 15000);

  var draft = read();
  if (draft) {
    restore(draft);
    show(draft.pending ? texts.offline : texts.restored);
    retry();
  }
})();
