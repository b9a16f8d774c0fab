// Live pages: an element with data-stream="<url>" listens to that Server-Sent Events stream; on
// each "changed" event the page is fetched again and every region marked data-live (by id) is
// swapped for its new content, leaving forms being typed in alone.
"use strict";

(() => {
  const root = document.querySelector("[data-stream]");
  if (!root || !window.EventSource) return;
  let refreshing = false;

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const answer = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      document.querySelectorAll("[data-live]").forEach((region) => {
        const next = fresh.getElementById(region.id);
        if (next) region.innerHTML = next.innerHTML;
      });
    } finally {
      refreshing = false;
    }
  }

  const stream = new EventSource(root.getAttribute("data-stream"));
  stream.addEventListener("changed", refresh);
  // What changed between drawing the page and (re)connecting is caught up on each connection.
  stream.addEventListener("open", refresh);
  window.addEventListener("pagehide", () => stream.close());
})();
