// Progressive enhancement only: every page works without this file.
// After a refused form, take keyboard and screen-reader users straight to the list of problems.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("form-errors");
  if (summary) {
    summary.focus();
  }
});
