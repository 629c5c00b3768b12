// The Print button: a file, because the security policy refuses inline handlers (onclick="…").
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});
