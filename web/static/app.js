// Progressive enhancement only: the page works without it.
// - Ticking a facet or changing the sort or the page size submits the search form at once, and a changed
//   filter goes back to page 1 (the form has no page field).
// - The filter panel (a <details>, closed in the page so that a phone shows the results first) is opened
//   on wide screens, where it is the sidebar.
// - Keyboard: ↓ in the search box goes to the first hit; within the hits, j or ↓ goes to the next one,
//   k or ↑ to the previous one (above the first: back to the search box). Only there: keys typed in a
//   field are never taken, and no single-letter key acts anywhere else on the page (WCAG 2.1.4).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("recherche");
  if (!form) return;
  document.documentElement.classList.add("js");
  form.addEventListener("change", function (event) {
    var t = event.target;
    if (t && (t.type === "checkbox" || t.id === "sort" || t.id === "per_page")) form.submit();
  });

  var panel = document.getElementById("filtres");
  var wide = window.matchMedia("(min-width: 48.01rem)");
  function fit() { if (panel) panel.open = wide.matches; }
  fit();
  if (wide.addEventListener) wide.addEventListener("change", fit);

  var box = document.getElementById("q");
  function toEnd() { box.setSelectionRange(box.value.length, box.value.length); }
  if (document.activeElement === box) toEnd();  // autofocus: type on after the query, to refine it
  var links = Array.prototype.slice.call(document.querySelectorAll("ol.hits > li.hit h3 a"));
  function go(i) {
    if (i < 0) { box.focus(); toEnd(); return true; }
    if (i >= links.length) return false;
    links[i].focus({ preventScroll: true });
    links[i].closest("li.hit").scrollIntoView({ block: "nearest" });
    return true;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (!links.length) return;
    var t = event.target;
    if (t === box) {
      if (event.key === "ArrowDown" && go(0)) event.preventDefault();
      return;
    }
    var hit = t && t.closest ? t.closest("ol.hits > li.hit") : null;
    if (!hit || t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) return;
    var here = links.indexOf(hit.querySelector("h3 a"));
    var step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[event.key];
    if (step && go(here + step)) event.preventDefault();
  });
});
