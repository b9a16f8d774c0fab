// Simulator: the customer form shows only the fields of the chosen message type.
"use strict";

(() => {
  const type = document.getElementById("sim-type");
  if (!type) return;
  function show() {
    document.querySelectorAll("#sim-customer [data-for]").forEach((part) => {
      const used = part.getAttribute("data-for").split(" ").includes(type.value);
      part.hidden = !used;
      part.querySelectorAll("input, textarea").forEach((input) => { input.disabled = !used; });
    });
  }
  type.addEventListener("change", show);
  show();
})();
