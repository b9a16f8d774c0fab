// Inbox reply box outside the 24-hour window: the chosen template's text, and as many variable
// fields as it takes.
"use strict";

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
