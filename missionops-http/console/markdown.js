// A small Markdown renderer for operational documents that builds DOM nodes directly: every
// piece of the source becomes a text node or an element we create, so raw HTML in a document
// (`<script>`, `<img onerror=…>`) is shown as the text it is and never parsed as markup.
//
// Blocks: headings (#…######), fenced code (```), lists (-, *, +, 1.), block quotes (>),
// rules (---), paragraphs. Inline: `code`, **strong**, *em* / _em_, [text](url) with http(s),
// mailto or same-site urls only (anything else stays text).

const SAFE_URL = /^(https?:\/\/|mailto:|\/|#)/i;

/** Renders `source` into a fresh element. */
export function renderMarkdown(source) {
  const root = document.createElement('div');
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) {
      root.append(inline('p', paragraph.join(' ')));
      paragraph = [];
    }
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (/^\s*```/.test(line)) {
      flush();
      const code = [];
      i += 1;
      while (i < lines.length && !/^\s*```/.test(lines[i])) {
        code.push(lines[i]);
        i += 1;
      }
      i += 1;
      const pre = document.createElement('pre');
      const c = document.createElement('code');
      c.textContent = code.join('\n');
      pre.append(c);
      root.append(pre);
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      flush();
      root.append(inline(`h${m[1].length}`, m[2].replace(/\s+#+\s*$/, '')));
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      root.append(document.createElement('hr'));
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const list = document.createElement(ordered ? 'ol' : 'ul');
      while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]))) {
        list.append(inline('li', m[2]));
        i += 1;
      }
      root.append(list);
      continue;
    } else if ((m = /^\s*>\s?(.*)$/.exec(line))) {
      flush();
      const quote = [];
      while (i < lines.length && (m = /^\s*>\s?(.*)$/.exec(lines[i]))) {
        quote.push(m[1]);
        i += 1;
      }
      const block = document.createElement('blockquote');
      block.append(inline('p', quote.join(' ')));
      root.append(block);
      continue;
    } else if (line.trim() === '') {
      flush();
    } else {
      paragraph.push(line.trim());
    }
    i += 1;
  }
  flush();
  return root;
}

/** An element `tag` holding the inline Markdown of `text`. */
function inline(tag, text) {
  const el = document.createElement(tag);
  appendInline(el, text);
  return el;
}

const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*]+)\*|_([^_]+)_|\[([^\]]+)\]\(([^)\s]+)\)/;

function appendInline(parent, text) {
  let rest = text;
  while (rest.length) {
    const m = INLINE.exec(rest);
    if (!m) {
      parent.append(document.createTextNode(rest));
      return;
    }
    if (m.index > 0) parent.append(document.createTextNode(rest.slice(0, m.index)));
    if (m[1] !== undefined) {
      const code = document.createElement('code');
      code.textContent = m[1];
      parent.append(code);
    } else if (m[2] !== undefined || m[3] !== undefined) {
      parent.append(inline('strong', m[2] ?? m[3]));
    } else if (m[4] !== undefined || m[5] !== undefined) {
      parent.append(inline('em', m[4] ?? m[5]));
    } else if (SAFE_URL.test(m[7])) {
      const a = inline('a', m[6]);
      a.setAttribute('href', m[7]);
      a.setAttribute('rel', 'noopener noreferrer');
      parent.append(a);
    } else {
      parent.append(document.createTextNode(m[0]));
    }
    rest = rest.slice(m.index + m[0].length);
  }
}
