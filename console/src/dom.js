// A tiny DOM builder: text goes in as text (never as HTML), so server data cannot inject markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A form row whose submit handler gets the values by input name; errors are shown above it. */
export function form(fields, submitText, onSubmit, { testid } = {}) {
  const msg = h('div');
  const inputs = fields.map((f) => h('label', {}, f.label,
    f.options
      ? h('select', { name: f.name }, f.options.map((o) => h('option', { value: o }, o)))
      : h('input', { name: f.name, type: f.type || 'text', value: f.value || '', placeholder: f.placeholder || '',
                     required: f.required !== false, autocomplete: f.autocomplete || 'off' })));
  const el = h('form', { class: 'row', 'data-testid': testid },
    inputs, h('button', { class: 'primary', type: 'submit' }, submitText));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = Object.fromEntries(new FormData(el).entries());
    msg.replaceChildren();
    try { await onSubmit(values, msg); } catch (err) { msg.replaceChildren(error(err)); }
  });
  return h('div', {}, msg, el);
}

export const error = (err) => h('div', { class: 'msg error', role: 'alert' }, err.message || String(err));
export const notice = (text) => h('div', { class: 'msg ok', role: 'status' }, text);

export function table(columns, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.title)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'none'))
      : rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, c.render ? c.render(r) : String(r[c.key] ?? '')))))));
}
