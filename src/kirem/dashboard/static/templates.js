// Template editor: a live preview of header, body, footer and buttons, and the body's variables
// ({{1}}, {{2}}, …) listed in order, with a warning when their numbering skips one.
"use strict";

(() => {
  const form = document.getElementById("template-form");
  if (!form) return;
  const field = (name) => form.elements.namedItem(name);
  const lines = (value) => value.split("\n").map((line) => line.trim()).filter(Boolean);
  const variables = document.getElementById("preview-variables");

  function bodyWithExamples(body, examples) {
    return body.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n) => examples[Number(n) - 1] || whole);
  }

  function render() {
    const body = field("body").value;
    const examples = lines(field("body_examples").value);
    document.getElementById("preview-header").textContent = field("header").value;
    document.getElementById("preview-body").textContent = bodyWithExamples(body, examples);
    document.getElementById("preview-footer").textContent = field("footer").value;
    const buttons = document.getElementById("preview-buttons");
    buttons.replaceChildren();
    const labels = lines(field("quick_replies").value);
    if (field("url_text").value) labels.push("↗ " + field("url_text").value);
    for (const label of labels) {
      const button = document.createElement("span");
      button.className = "preview-button";
      button.textContent = label;
      buttons.append(button);
    }
    const numbers = [...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => Number(m[1]));
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    if (!distinct.length) {
      variables.textContent = variables.getAttribute("data-none");
      return;
    }
    const inOrder = distinct.every((n, i) => n === i + 1);
    variables.textContent = variables.getAttribute("data-label") + " " +
      distinct.map((n) => "{{" + n + "}}").join(", ") + (inOrder ? "" : " — " + variables.getAttribute("data-gap"));
    variables.classList.toggle("field-error", !inOrder);
  }

  form.addEventListener("input", render);
  render();
})();
