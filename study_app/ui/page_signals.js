export default function(component) {
  const { setStateValue, data } = component;
  // live: drawn outside the form with data.trial, reports only when a count or a closed duration changed
  // (the server keeps them per trial, so a reload continues the counts); its counts live on the window per
  // trial, so a re-mount within the same page load continues them. Otherwise: inside the form, sent with
  // the answer.
  const live = Boolean(data && data.live);
  // One id per page load (a reload is a new document): the server adds up the counts of earlier loads.
  window.__xaiPageLoad = window.__xaiPageLoad || (Date.now().toString(36) + Math.random().toString(36).slice(2, 10));
  const pageLoad = window.__xaiPageLoad;
  const fresh = () => {
    const t0 = performance.now();
    return {t0, s: {hidden_count: 0, hidden_ms: 0, blur_count: 0, blur_ms: 0}, listening: false,
            hiddenSince: document.visibilityState === 'hidden' ? t0 : null,
            blurSince: document.hasFocus() ? null : t0, sent: null, timer: null, leaving: false};
  };
  const registry = (window.__xaiLiveSignals = window.__xaiLiveSignals || {});
  const c = live ? (registry[String(data.trial)] = registry[String(data.trial)] || fresh()) : fresh();
  c.setStateValue = setStateValue;
  if (c.listening) return;  // this trial is already counted in this page load
  const s = c.s;
  if (c.sent === null) c.sent = JSON.stringify(s);
  const send = () => {
    const now = JSON.stringify(s);
    if (c.leaving || now === c.sent) return;
    c.sent = now;
    c.setStateValue('signals', {...s, page_load: pageLoad});
  };
  const report = () => {
    if (c.leaving) return;  // a reload hides the page on its way out: that is no hiding by the participant
    if (live) { clearTimeout(c.timer); c.timer = setTimeout(send, 200); return; }
    c.setStateValue('signals', {...s, on_screen_ms: Math.round(performance.now() - c.t0), page_load: pageLoad});
  };
  const onVisibility = () => {
    const now = performance.now();
    if (document.visibilityState === 'hidden') { if (c.hiddenSince === null) { s.hidden_count += 1; c.hiddenSince = now; } }
    else if (c.hiddenSince !== null) { s.hidden_ms += Math.round(now - c.hiddenSince); c.hiddenSince = null; }
    report();
  };
  const onBlur = () => { if (c.blurSince === null) { s.blur_count += 1; c.blurSince = performance.now(); } report(); };
  const onFocus = () => {
    if (c.blurSince !== null) { s.blur_ms += Math.round(performance.now() - c.blurSince); c.blurSince = null; }
    report();
  };
  const onPageHide = () => { c.leaving = true; clearTimeout(c.timer); };
  const onPageShow = (event) => { if (event.persisted) c.leaving = false; };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('blur', onBlur);
  window.addEventListener('focus', onFocus);
  window.addEventListener('pagehide', onPageHide);
  window.addEventListener('pageshow', onPageShow);
  c.listening = true;
  report();
  return () => {
    clearTimeout(c.timer);
    c.listening = false;
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('blur', onBlur);
    window.removeEventListener('focus', onFocus);
    window.removeEventListener('pagehide', onPageHide);
    window.removeEventListener('pageshow', onPageShow);
  };
}
