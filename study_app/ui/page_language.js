// The page in the study's language, where Streamlit's own frontend writes English: the <html lang> attribute
// (screen readers pick their voice by it) and Streamlit's participant-visible texts (the connection-error
// dialog, "Skip to main content", "Fullscreen", input hints, ...), each replaced by its translation wherever it
// appears as a whole text or as an aria-label, title or placeholder. A MutationObserver keeps doing so as
// Streamlit redraws; one observer per page load, its table updated on every script run (data.texts:
// English -> translation, data.lang: the language's code).
export default function(component) {
  const { data } = component;
  const root = component.parentElement;
  const box = (root && (root.host || root)).closest
    ? (root.host || root).closest('[data-testid="stElementContainer"]') : null;
  if (box) box.style.display = 'none';  // draws nothing: no gap in the page's layout
  if (!data || !data.lang) return;
  const state = window.__xaiPageLanguage || (window.__xaiPageLanguage = { texts: {}, observer: null });
  state.texts = data.texts || {};
  state.lang = data.lang;
  const ATTRIBUTES = ['aria-label', 'title', 'placeholder'];
  const known = key => Object.prototype.hasOwnProperty.call(state.texts, key);
  // The whole text, or its head before ": " (a picture's toolbar button reads "Fullscreen: <what it shows>").
  const translated = value => {
    if (typeof value !== 'string') return null;
    const key = value.trim();
    if (known(key)) return value.replace(key, state.texts[key]);
    const head = key.split(': ', 1)[0];
    return head !== key && known(head) ? value.replace(head + ': ', state.texts[head] + ': ') : null;
  };
  const fixElement = el => {
    for (const name of ATTRIBUTES) {
      const now = el.getAttribute && el.getAttribute(name);
      const better = now ? translated(now) : null;
      if (better !== null && better !== now) el.setAttribute(name, better);
    }
  };
  const fixText = node => {
    const better = translated(node.nodeValue);
    if (better !== null && better !== node.nodeValue) node.nodeValue = better;
  };
  const fixTree = top => {
    if (top.nodeType === Node.TEXT_NODE) { fixText(top); return; }
    if (top.nodeType !== Node.ELEMENT_NODE) return;
    fixElement(top);
    const walker = document.createTreeWalker(top, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) fixText(n); else fixElement(n);
    }
  };
  if (document.documentElement.lang !== data.lang) document.documentElement.lang = data.lang;
  if (document.body) fixTree(document.body);
  if (state.observer) return;
  state.observer = new MutationObserver(records => {
    if (document.documentElement.lang !== state.lang) document.documentElement.lang = state.lang;
    for (const r of records) {
      if (r.type === 'childList') r.addedNodes.forEach(fixTree);
      else if (r.type === 'characterData') fixText(r.target);
      else if (r.type === 'attributes') fixElement(r.target);
    }
  });
  state.observer.observe(document.documentElement, { subtree: true, childList: true, characterData: true,
                                                     attributes: true, attributeFilter: ATTRIBUTES.concat(['lang']) });
}
