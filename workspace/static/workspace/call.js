// Tap-to-call: a tap on "call" reveals the number (an audited reveal, answered with the number as a
// tel: link marked data-dial) and the phone's dialler opens at once, without a second tap.
document.addEventListener("htmx:load", function (event) {
  var elt = event.detail && event.detail.elt;
  if (!elt || !elt.querySelector) return;
  var link = elt.matches("a[data-dial]") ? elt : elt.querySelector("a[data-dial]");
  if (link) link.click();
});
