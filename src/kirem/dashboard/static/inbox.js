// Inbox: new messages and conversations appear without reloading (Server-Sent Events), and the
// template reply box shows the chosen template's text and as many variable fields as it takes.
"use strict";

(() => {
  const inbox = document.querySelector(".inbox[data-stream]");
  if (!inbox || !window.EventSource) return;
  const regions = ["#conversation-list", "#timeline"];
  let refreshing = false;

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const answer = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      for (const selector of regions) {
        const now = document.querySelector(selector);
        const next = fresh.querySelector(selector);
        if (now && next) now.innerHTML = next.innerHTML;
      }
      inbox.dispatchEvent(new CustomEvent("inbox:refreshed"));
    } finally {
      refreshing = false;
    }
  }

  const stream = new EventSource(inbox.getAttribute("data-stream"));
  stream.addEventListener("changed", refresh);
  window.addEventListener("pagehide", () => stream.close());
})();

(() => {
  const choice = document.getElementById("template-choice");
  if (!choice) return;
  const body = document.getElementById("template-body");
  const fields = document.querySelectorAll("#template-variables [data-variable]");

  function show() {
    const option = choice.options[choice.selectedIndex];
    const count = Number(option.getAttribute("data-variables") || "0");
    body.textContent = option.getAttribute("data-body") || "";
    fields.forEach((field) => {
      const used = Number(field.getAttribute("data-variable")) <= count;
      field.hidden = !used;
      field.querySelector("input").disabled = !used;
      field.querySelector("input").required = used;
    });
  }

  choice.addEventListener("change", show);
  show();
})();
