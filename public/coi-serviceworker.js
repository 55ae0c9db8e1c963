/* Cross-origin isolation for static hosts that cannot send headers (GitHub Pages and the like).
 * index.html loads this file as a classic script; on the page it registers itself as a service
 * worker, which then adds COOP/COEP/CORP to every response, and reloads the page once so the
 * headers apply. Where the page is already isolated (the server sends the headers) it does nothing.
 * Without isolation ONNX Runtime WASM runs on one thread (about half the speed). */
(() => {
  const RELOAD_FLAG = 'quantlab:coi-reloaded';
  const HEADERS = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };

  if (typeof window === 'undefined') {
    // Service worker side.
    self.addEventListener('install', () => self.skipWaiting());
    self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
    self.addEventListener('fetch', (event) => {
      const request = event.request;
      // Chrome throws on these when not same-origin (devtools); let the browser handle them.
      if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
      event.respondWith(
        fetch(request).then((response) => {
          // Opaque and redirect responses cannot be rebuilt; COEP decides about them as usual.
          if (response.status === 0 || response.type === 'opaqueredirect') return response;
          const headers = new Headers(response.headers);
          for (const [name, value] of Object.entries(HEADERS)) {
            if (!headers.has(name)) headers.set(name, value);
          }
          return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
        }),
      );
    });
    return;
  }

  // Page side.
  if (window.crossOriginIsolated) {
    sessionStorage.removeItem(RELOAD_FLAG);
    return;
  }
  if (!window.isSecureContext || !('serviceWorker' in navigator)) {
    console.warn(
      'QuantLab: no cross-origin isolation (needs HTTPS or localhost and service workers); WASM runs on one thread.',
    );
    return;
  }
  const reloadOnce = () => {
    if (sessionStorage.getItem(RELOAD_FLAG)) {
      console.warn('QuantLab: the isolation service worker is active but the page is still not isolated.');
      return;
    }
    sessionStorage.setItem(RELOAD_FLAG, '1');
    location.reload();
  };
  navigator.serviceWorker.register(document.currentScript.src).then(
    (registration) => {
      // Controlled (or about to be, by clients.claim) but not isolated: reload so the headers apply.
      if (navigator.serviceWorker.controller || registration.active) reloadOnce();
      else navigator.serviceWorker.addEventListener('controllerchange', reloadOnce);
    },
    (err) => console.warn('QuantLab: could not register the isolation service worker:', err),
  );
})();
