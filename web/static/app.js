// Progressive enhancement only: the page works without it. Ticking a facet or changing the sort
// submits the search form at once, and a changed filter goes back to page 1 (the form has no page field).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("recherche");
  if (!form) return;
  form.addEventListener("change", function (event) {
    var t = event.target;
    if (t && (t.type === "checkbox" || t.id === "sort")) form.submit();
  });
  document.documentElement.classList.add("js");
});
