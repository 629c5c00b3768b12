/* The check-in form on top of the outbox (outbox.js). What is typed is kept in the outbox as it is
   typed, so it survives a reload, a sign-out and an expired session; "save" queues it with the time
   it was tapped (the time of the contact) and sends it. Saved, the family's page opens with the
   confirmation; without a connection the bar at the foot of the screen says it is kept.

   Every new check-in gets a new key made here, not the one in the page: a page opened offline is a
   kept copy, and its key would be the key of a check-in sent before, so the server would take the
   new one for a resend of the old and store nothing. */
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  var outbox = window.workspaceOutbox;
  if (!form || !outbox || !outbox.user) return;
  var texts = JSON.parse(document.getElementById("draft-messages").textContent);
  var status = document.getElementById("draft-status");
  var discard = document.getElementById("draft-discard");
  var button = form.querySelector("button[type=submit]");
  var url = form.getAttribute("action") || window.location.pathname;
  var draft = null;

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }
  function show(text) { status.textContent = text || ""; status.hidden = !text; }
  function fields() {
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && name !== "key" && name !== "occurred_at") values[name] = value;
    });
    return values;
  }
  function restore(kept) {
    Object.keys(kept.fields || {}).forEach(function (name) {
      var element = form.elements[name];
      if (element) element.value = kept.fields[name];
    });
  }
  function current() {
    if (!draft) {
      draft = {key: newKey(), user: outbox.user, username: outbox.username, url: url, queued: false, error: null,
               occurredAt: null};
    }
    draft.fields = fields();
    draft.savedAt = Date.now();
    form.elements.key.value = draft.key;
    return draft;
  }
  function remember() { if (!draft || !draft.queued) outbox.put(current()); }
  function opened(report) {
    var result = report && report.results[draft.key];
    if (!result) return false;
    if (result.state === "saved") {
      outbox.notifyNext(result.answer.message);
      window.location.href = result.answer.url;
      return true;
    }
    if (result.state === "refused") {
      draft.error = result.reason;
      show(result.reason);
      outbox.notify(result.reason, "refused");
    }
    return false;
  }

  form.addEventListener("input", remember);
  form.addEventListener("change", remember);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var queued = current();
    queued.queued = true;
    queued.error = null;
    queued.occurredAt = queued.occurredAt || new Date().toISOString();
    button.disabled = true;
    outbox.put(queued).then(function () {
      if (navigator.onLine === false) return null;
      outbox.notify(texts.sending);
      return outbox.flush();
    }, function () {
      // Nowhere to keep it (storage refused, a private window): the plain form, sent as it is.
      form.elements.occurred_at.value = queued.occurredAt;
      form.submit();
      throw new Error("sent without the outbox");
    }).then(function (report) {
      button.disabled = false;
      if (opened(report)) return;
      var result = report && report.results[queued.key];
      if (!result || result.state === "offline" || result.state === "later") outbox.notify(texts.offline);
      else if (result.state === "signed-out") outbox.notify("");  // the bar asks to sign in
    }, function () { button.disabled = false; });
  });
  discard.addEventListener("click", function () {
    if (draft) outbox.remove(draft.key).then(function () { window.location.reload(); });
  });
  // Sent from the bar's background sending while this form is open: the family's page, as after "save".
  document.addEventListener("outbox:sent", function (event) { if (draft) opened(event.detail); });

  // A draft of this form to go on with: one being filled in, or one the server refused (to correct
  // it, or to throw it away). One waiting to be sent stays in the outbox; this form starts a new one.
  outbox.all().then(function (drafts) {
    var mine = drafts.filter(function (d) { return d.user === outbox.user && d.url === url && (!d.queued || d.error); });
    mine.sort(function (a, b) { return b.savedAt - a.savedAt; });
    draft = mine[0] || null;
    if (draft) {
      restore(draft);
      show(draft.error || texts.restored);
      discard.hidden = false;
    }
    current();
  });
})();
