// A page whose browser failed to load one of Streamlit's code chunks (a widget's code is fetched the first
// time a page uses it; a busy network or server can drop that fetch) would show an error where the widget
// belongs, e.g. "Failed to fetch dynamically imported module", and no answer buttons until a reload. This
// script reloads the page by itself, with the same address: the participant's token is in it (?p=...) and
// every answer is in the database, so they resume at the same screen. At most MAX reloads within WINDOW_MS,
// so a chunk that can never load cannot make the page reload forever.
export default function(component) {
  const root = component.parentElement;
  const box = (root && (root.host || root)).closest
    ? (root.host || root).closest('[data-testid="stElementContainer"]') : null;
  if (box) box.style.display = 'none';  // draws nothing: no gap in the page's layout
  if (window.__xaiChunkRecovery) return;
  window.__xaiChunkRecovery = true;
  const KEY = 'xai_study.chunk_reloads', MAX = 3, WINDOW_MS = 120000;
  const SIGNS = ['dynamically imported module', 'Importing a module script failed',
                 'Cannot load Streamlit frontend code'];
  const failed = text => typeof text === 'string' && SIGNS.some(s => text.includes(s));
  let reloading = false;
  const reload = () => {
    if (reloading) return;
    const now = Date.now();
    let recent = [];
    try { recent = JSON.parse(sessionStorage.getItem(KEY) || '[]').filter(t => now - t < WINDOW_MS); }
    catch (e) { recent = []; }
    if (recent.length >= MAX) return;
    recent.push(now);
    try { sessionStorage.setItem(KEY, JSON.stringify(recent)); } catch (e) { /* private mode: still reload */ }
    reloading = true;
    window.location.reload();
  };
  // Vite's loader announces a chunk it could not load; errors that escape it come as rejections.
  window.addEventListener('vite:preloadError', reload);
  window.addEventListener('unhandledrejection', e => { if (failed(String(e.reason && e.reason.message))) reload(); });
  // A chunk that failed before this script ran left its error on the page.
  const look = () => { if (failed(document.body ? document.body.textContent : '')) reload(); };
  look();
  setInterval(look, 1000);
}
