export default function(component) {
  const { setStateValue } = component;
  const t0 = performance.now();
  const s = {hidden_count: 0, hidden_ms: 0, blur_count: 0, blur_ms: 0};
  let hiddenSince = document.visibilityState === 'hidden' ? t0 : null;
  let blurSince = document.hasFocus() ? null : t0;
  const report = () => setStateValue('signals', {...s, on_screen_ms: Math.round(performance.now() - t0)});
  const onVisibility = () => {
    const now = performance.now();
    if (document.visibilityState === 'hidden') { if (hiddenSince === null) { s.hidden_count += 1; hiddenSince = now; } }
    else if (hiddenSince !== null) { s.hidden_ms += Math.round(now - hiddenSince); hiddenSince = null; }
    report();
  };
  const onBlur = () => { if (blurSince === null) { s.blur_count += 1; blurSince = performance.now(); } report(); };
  const onFocus = () => {
    if (blurSince !== null) { s.blur_ms += Math.round(performance.now() - blurSince); blurSince = null; }
    report();
  };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('blur', onBlur);
  window.addEventListener('focus', onFocus);
  report();
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('blur', onBlur);
    window.removeEventListener('focus', onFocus);
  };
}
