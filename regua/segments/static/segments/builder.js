// The segment rule builder: groups of conditions joined by AND/OR, nested.
// Reads the field catalogue and the rule from JSON script tags, keeps the rule in the
// form's hidden "rule" field, and tells the page when it changed (live count).
(function () {
  "use strict";
  const root = document.getElementById("builder");
  if (!root) return;
  const fields = JSON.parse(document.getElementById("segment-fields").textContent);
  const opLabels = JSON.parse(document.getElementById("segment-ops").textContent);
  const words = JSON.parse(document.getElementById("segment-words").textContent);
  const output = document.querySelector("textarea[name=rule]");
  let rule = JSON.parse(output.value || '{"match":"all","conditions":[]}');

  function specFor(key) {
    return fields.find((f) => f.key === key) ||
      fields.find((f) => f.param && key.startsWith(f.key));
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  function changed() {
    output.value = JSON.stringify(rule);
    document.body.dispatchEvent(new Event("rule-changed"));
  }

  function redraw() {
    root.replaceChildren(drawGroup(rule, null, 0));
  }

  function defaultCondition() {
    return { field: "city", op: "eq", value: "" };
  }

  function defaultValue(spec, op) {
    if (op === "within_days" || op === "not_within_days") return 30;
    if (op === "count_gte" || op === "count_lte") return { count: 1, days: 30 };
    if (op === "in" || op === "not_in") return spec.choices && spec.choices.length ? [spec.choices[0][0]] : [];
    if (op === "is_set" || op === "is_not_set") return null;
    if (spec.choices && spec.choices.length) return spec.choices[0][0];
    return spec.value === "number" ? 0 : "";
  }

  function number(input) {
    const n = Number(input.value);
    return input.value === "" || Number.isNaN(n) ? input.value : n;
  }

  function drawValue(cond, spec) {
    const op = cond.op;
    if (op === "is_set" || op === "is_not_set") return null;
    const label = (text) => ({ "aria-label": text });
    if (op === "within_days" || op === "not_within_days") {
      return el("input", { type: "number", min: 1, value: cond.value, class: "days", ...label(words.days),
        oninput: (e) => { cond.value = number(e.target); changed(); } });
    }
    if (op === "count_gte" || op === "count_lte") {
      const v = cond.value || { count: 1, days: 30 };
      return el("span", {}, [
        el("input", { type: "number", min: 0, value: v.count, class: "days", ...label(words.times),
          oninput: (e) => { v.count = number(e.target); cond.value = v; changed(); } }),
        el("span", { text: " " + words.times + " / " }),
        el("input", { type: "number", min: 1, value: v.days, class: "days", ...label(words.days),
          oninput: (e) => { v.days = number(e.target); cond.value = v; changed(); } }),
        el("span", { text: " " + words.days }),
      ]);
    }
    if (spec.choices) {
      const multiple = op === "in" || op === "not_in";
      const select = el("select", { ...label(words.value), ...(multiple ? { multiple: "" } : {}),
        onchange: (e) => {
          const chosen = Array.from(e.target.selectedOptions).map((o) => o.value);
          cond.value = multiple ? chosen : chosen[0];
          changed();
        } },
        spec.choices.map(([value, text]) => {
          const option = el("option", { value: value, text: text });
          const current = multiple ? (cond.value || []) : [cond.value];
          if (current.includes(value)) option.selected = true;
          return option;
        }));
      return select;
    }
    return el("input", { type: spec.value === "number" ? "number" : "text", value: cond.value ?? "",
      step: "any", ...label(words.value),
      oninput: (e) => { cond.value = spec.value === "number" ? number(e.target) : e.target.value; changed(); } });
  }

  function drawCondition(cond, parent, index) {
    const spec = specFor(cond.field) || fields[0];
    const fieldSelect = el("select", { "aria-label": words.field, onchange: (e) => {
      const next = fields[Number(e.target.value)];
      cond.field = next.key + (next.param ? (next.suggestions ? next.suggestions[0] : "") : "");
      cond.op = next.ops[0];
      cond.value = defaultValue(next, cond.op);
      changed(); redraw();
    } });
    let group = null;
    fields.forEach((f, i) => {
      if (!group || group.label !== f.group) {
        group = el("optgroup", { label: f.group });
        fieldSelect.appendChild(group);
      }
      const option = el("option", { value: i, text: f.label });
      if (f === spec) option.selected = true;
      group.appendChild(option);
    });
    const parts = [fieldSelect];
    if (spec.param) {
      const list = spec.suggestions ? "suggest-" + spec.key.replace(/\W/g, "") : null;
      parts.push(el("input", { type: "text", value: cond.field.slice(spec.key.length), placeholder: spec.param,
        "aria-label": spec.param, ...(list ? { list: list } : {}), class: "param",
        oninput: (e) => { cond.field = spec.key + e.target.value.trim(); changed(); } }));
      if (list && !document.getElementById(list)) {
        document.body.appendChild(el("datalist", { id: list },
          spec.suggestions.map((s) => el("option", { value: s }))));
      }
    }
    const opSelect = el("select", { "aria-label": words.operator, onchange: (e) => {
      cond.op = e.target.value; cond.value = defaultValue(spec, cond.op); changed(); redraw();
    } }, spec.ops.map((op) => {
      const option = el("option", { value: op, text: opLabels[op] || op });
      if (op === cond.op) option.selected = true;
      return option;
    }));
    parts.push(opSelect);
    parts.push(drawValue(cond, spec));
    parts.push(el("button", { type: "button", class: "linkbutton", "aria-label": words.remove, text: "✕",
      onclick: () => { parent.conditions.splice(index, 1); changed(); redraw(); } }));
    return el("div", { class: "condition" }, parts);
  }

  function drawGroup(group, parent, depth, index) {
    const match = el("select", { "aria-label": words.match, onchange: (e) => { group.match = e.target.value; changed(); } },
      [["all", words.all], ["any", words.any]].map(([v, t]) => {
        const o = el("option", { value: v, text: t });
        if (group.match === v) o.selected = true;
        return o;
      }));
    const items = group.conditions.map((item, i) =>
      item.match ? drawGroup(item, group, depth + 1, i) : drawCondition(item, group, i));
    const actions = el("div", { class: "actions" }, [
      el("button", { type: "button", class: "secondary", text: "+ " + words.condition,
        onclick: () => { group.conditions.push(defaultCondition()); changed(); redraw(); } }),
      depth < 3 ? el("button", { type: "button", class: "secondary", text: "+ " + words.group,
        onclick: () => { group.conditions.push({ match: "any", conditions: [defaultCondition()] }); changed(); redraw(); } }) : null,
      parent ? el("button", { type: "button", class: "linkbutton", text: words.removeGroup,
        onclick: () => { parent.conditions.splice(index, 1); changed(); redraw(); } }) : null,
    ]);
    return el("fieldset", { class: "rule-group depth-" + depth }, [
      el("legend", {}, [match]), ...items, actions,
    ]);
  }

  redraw();
  output.value = JSON.stringify(rule);
})();
