// Starts Swagger UI on the OpenAPI document next to this page (the page's CSP allows no
// inline script, so this lives in its own file).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  // Where the API is: this page's folder, with API Gateway's stage prefix if any (/v1/).
  const base = new URL(".", document.baseURI);
  window.ui = window.SwaggerUIBundle({
    url: new URL("openapi.json", base).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    validatorUrl: null, // never send the document to an outside validator
    // "Try it out" calls the document's paths from the host's root; under a stage prefix they
    // must carry it, as this page's own URL does.
    requestInterceptor: (request) => {
      const target = new URL(request.url, base);
      if (target.origin === base.origin && !target.pathname.startsWith(base.pathname)) {
        target.pathname = base.pathname.replace(/\/$/, "") + target.pathname;
        request.url = target.href;
      }
      return request;
    },
  });
});
