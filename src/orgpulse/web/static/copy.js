// "Copy" buttons: <button data-copy="ID"> copies the text of element ID (no third-party code).
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value || source.textContent).then(done);
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  });
});
