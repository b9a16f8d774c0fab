// Rule editor: show the fields or the raw JSON, and carry the conditions across when switching.
"use strict";

(() => {
  const form = document.getElementById("rule-form");
  if (!form) return;
  const LISTS = ["senders", "keywords"];
  const CHOICES = ["event_types", "message_types", "channel_ids"];
  const json = form.querySelector("textarea[name=conditions_json]");

  const lines = (text) => text.split(/[,\n]/).map((item) => item.trim()).filter(Boolean);

  function fromFields() {
    const conditions = {};
    for (const name of CHOICES) {
      const picked = [...form.querySelectorAll(`input[name=${name}]:checked`)].map((box) => box.value);
      if (picked.length) conditions[name] = picked;
    }
    for (const name of LISTS) {
      const items = lines(form.querySelector(`textarea[name=${name}]`).value);
      if (items.length) conditions[name] = items;
    }
    const regex = form.querySelector("input[name=regex]").value;
    if (regex.trim()) conditions.regex = regex;
    return conditions;
  }

  function toFields(conditions) {
    for (const name of CHOICES) {
      const wanted = new Set(conditions[name] || []);
      form.querySelectorAll(`input[name=${name}]`).forEach((box) => { box.checked = wanted.has(box.value); });
    }
    for (const name of LISTS) {
      form.querySelector(`textarea[name=${name}]`).value = (conditions[name] || []).join("\n");
    }
    form.querySelector("input[name=regex]").value = conditions.regex || "";
  }

  function show(mode) {
    form.querySelectorAll("[data-editor]").forEach((section) => {
      section.style.display = section.getAttribute("data-editor") === mode ? "" : "none";
    });
  }

  form.querySelectorAll("input[data-editor-mode]").forEach((radio) => {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      if (radio.value === "json") {
        json.value = JSON.stringify(fromFields(), null, 2);
      } else {
        try {
          const parsed = JSON.parse(json.value || "{}");
          if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) toFields(parsed);
        } catch (error) {
          // invalid JSON stays in its textarea; the fields keep what they had
        }
      }
      show(radio.value);
    });
  });
  const checked = form.querySelector("input[data-editor-mode]:checked");
  show(checked ? checked.value : "fields");
})();
