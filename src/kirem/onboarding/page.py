"""The hosted setup page and its error pages: plain HTML, no asset but Meta's Facebook JS SDK.

The page's URL holds the link's secret, so every page is sent with ``Referrer-Policy: no-referrer``
and ``Cache-Control: no-store``, and a Content Security Policy that lets scripts come only from the
page itself (by nonce) and from ``connect.facebook.net``.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode

import orjson
from starlette.responses import HTMLResponse

from kirem.config import Settings
from kirem.onboarding.models import SetupLink
from kirem.sandbox.onboarding import SANDBOX_APP_ID

FACEBOOK_SDK = "https://connect.facebook.net/en_US/sdk.js"
FACEBOOK_ORIGINS = ("https://www.facebook.com", "https://web.facebook.com")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1c1e21}"
    "button,a.button{background:#1877f2;color:#fff;border:0;border-radius:6px;padding:.7rem 1.2rem;"
    "font-size:1rem;text-decoration:none;cursor:pointer}#status{color:#b00020}"
)

# The client side of Embedded Signup: FB.login with the configuration id returns a code, and the
# popup posts the new WABA and number ids as a WA_EMBEDDED_SIGNUP message; with both, the browser
# goes to the callback. Values are filled from a JSON object, never spliced into the code.
_SIGNUP_SCRIPT = """
const cfg = JSON.parse(document.getElementById("signup-config").textContent);
let code = null, ids = null;
const show = (text) => { document.getElementById("status").textContent = text; };
function finish() {
  if (!code || !ids) return;
  const query = new URLSearchParams({state: cfg.state, code: code,
    waba_id: ids.waba_id, phone_number_id: ids.phone_number_id});
  window.location.assign(cfg.callback + "?" + query.toString());
}
window.addEventListener("message", (event) => {
  if (!cfg.origins.includes(event.origin)) return;
  let data;
  try { data = JSON.parse(event.data); } catch (e) { return; }
  if (!data || data.type !== "WA_EMBEDDED_SIGNUP") return;
  if (data.event === "CANCEL") { show("The signup was not finished. You can start it again."); return; }
  if (data.data && data.data.waba_id && data.data.phone_number_id) { ids = data.data; finish(); }
});
window.fbAsyncInit = function () {
  FB.init({appId: cfg.appId, autoLogAppEvents: true, xfbml: false, version: cfg.version});
};
document.getElementById("start").addEventListener("click", () => {
  FB.login((response) => {
    if (response.authResponse && response.authResponse.code) { code = response.authResponse.code; finish(); }
    else { show("The signup was not finished. You can start it again."); }
  }, {config_id: cfg.configId, response_type: "code", override_default_response_type: true,
      extras: {setup: {}, featureType: cfg.coexistence ? "whatsapp_business_app_onboarding" : "",
               sessionInfoVersion: "3"}});
});
"""


def _headers(nonce: str) -> dict[str, str]:
    policy = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}' https://connect.facebook.net; "
        f"style-src 'nonce-{nonce}'; "
        "frame-src https://www.facebook.com https://web.facebook.com; "
        "connect-src https://*.facebook.com https://connect.facebook.net; "
        "img-src https://*.facebook.com https://*.fbcdn.net data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _document(title: str, body: str, nonce: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><style nonce="{nonce}">{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )


def message_page(status: int, title: str, text: str) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    return HTMLResponse(_document(title, body, nonce), status_code=status, headers=_headers(nonce))


def setup_page(settings: Settings, link: SetupLink, secret: str) -> HTMLResponse:
    """Meta's Embedded Signup for a live link; for a sandbox link, the way to the emulated popup."""
    nonce = secrets.token_urlsafe(16)
    callback = f"{settings.base_url}/setup/callback"
    flow = (
        "Connect the number you use in the WhatsApp Business app: it keeps working on your phone."
        if link.coexistence
        else "Connect a WhatsApp Business number to the WhatsApp Business Platform."
    )
    intro = f"<h1>Connect WhatsApp for {html.escape(link.client_name)}</h1><p>{html.escape(flow)}</p>"
    if link.mode == "sandbox":
        query = urlencode(
            {
                "app_id": SANDBOX_APP_ID,
                "state": secret,
                "redirect_uri": callback,
                "coexistence": "true" if link.coexistence else "false",
            }
        )
        href = html.escape(f"{settings.base_url}/sandbox/embedded-signup?{query}")
        body = (
            f"{intro}<p>This is a sandbox link: Meta's signup is emulated by this server.</p>"
            f'<p><a class="button" id="start" href="{href}">Continue with Facebook (sandbox)</a></p>'
        )
        return HTMLResponse(_document("Connect WhatsApp", body, nonce), headers=_headers(nonce))
    config = {
        "appId": settings.meta_app_id,
        "configId": settings.meta_config_id,
        "version": settings.meta_graph_version,
        "coexistence": link.coexistence,
        "state": secret,
        "callback": callback,
        "origins": list(FACEBOOK_ORIGINS),
    }
    data = orjson.dumps(config).decode().replace("<", "\\u003c")
    body = (
        f'{intro}<p><button id="start" type="button">Continue with Facebook</button></p><p id="status"></p>'
        f'<script type="application/json" id="signup-config">{data}</script>'
        f'<script nonce="{nonce}">{_SIGNUP_SCRIPT}</script>'
        f'<script async defer crossorigin="anonymous" nonce="{nonce}" src="{FACEBOOK_SDK}"></script>'
    )
    return HTMLResponse(_document("Connect WhatsApp", body, nonce), headers=_headers(nonce))
