// Progressive enhancement only: a citation's address is relative when ARCHIVE_BASE_URL is not set (the
// server never trusts the Host header); the browser knows the site's real origin, so write it in.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("p.citation a.permalink").forEach(function (a) {
    if (a.textContent.charAt(0) === "/") a.textContent = a.href;
  });
});
