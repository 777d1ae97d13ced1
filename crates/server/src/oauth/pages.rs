//! The HTML the authorization endpoint shows: sign-in, consent and error pages. Server-rendered,
//! self-contained (no script, no external asset), every value escaped. The headers forbid
//! framing (clickjacking a consent button) and caching.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f;\
margin:0;display:flex;justify-content:center}main{background:#fff;margin:8vh 16px;padding:28px 32px;\
border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);max-width:460px;width:100%}\
h1{font-size:22px;margin:0 0 16px}dl{margin:16px 0}dt{font-size:13px;color:#6e6e73}\
dd{margin:0 0 10px;word-break:break-all}.warn{background:#fff4e5;border-radius:8px;padding:8px 12px;\
font-size:14px}label{display:block;margin:12px 0 4px}input[type=text],input[type=password]\
{width:100%;box-sizing:border-box;padding:8px;font-size:16px;border:1px solid #c7c7cc;border-radius:6px}\
.buttons{display:flex;gap:12px;margin-top:20px}button{font-size:16px;padding:9px 18px;border-radius:8px;\
border:1px solid #c7c7cc;background:#fff;cursor:pointer}button.primary{background:#0071e3;\
color:#fff;border-color:#0071e3}.error{color:#b00020}";

/// A whole page around `body` (already escaped where needed).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Catwalk</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: browsers then send `Origin: null` with the forms, which the guard
    // refuses. `same-origin` keeps the page's URL from other sites all the same.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// An error the user must see (the request cannot be sent back to the client safely).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Authorization failed",
        &format!(
            "<h1>Authorization failed</h1><p class=\"error\" id=\"error\">{}</p>\
             <p>Close this window and try again from your MCP client.</p>",
            escape(message)
        ),
    )
}

/// The sign-in form; after it, the browser returns to the authorization request.
pub fn sign_in_page(return_to: &str, login_csrf: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        if error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        },
        "Sign in",
        &format!(
            "<h1>Sign in to Catwalk</h1>\
             <p>An MCP client asks for access to one of your deployments. Sign in to review it.</p>\
             {error}\
             <form method=\"post\" action=\"/oauth/sign-in\">\
             <input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
             <input type=\"hidden\" name=\"login_csrf\" value=\"{login_csrf}\">\
             <label for=\"username\">Username</label>\
             <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input type=\"password\" id=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required>\
             <div class=\"buttons\"><button class=\"primary\" type=\"submit\" id=\"sign-in\">\
             Sign in</button></div></form>",
            return_to = escape(return_to),
            login_csrf = escape(login_csrf),
        ),
    )
}

/// What the consent page shows.
pub struct Consent<'a> {
    pub client_name: Option<&'a str>,
    pub client_id: &'a str,
    pub client_uri: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub redirect_host: &'a str,
    pub local_redirect: bool,
    pub deployment: &'a str,
    pub endpoint: &'a str,
    pub username: &'a str,
    pub csrf: &'a str,
    /// The authorization request's parameters, sent back with the decision.
    pub params: &'a [(&'static str, String)],
}

pub fn consent_page(consent: &Consent<'_>) -> Response {
    let name = consent.client_name.unwrap_or("An unnamed client");
    let mut hidden = String::new();
    for (key, value) in consent.params {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{key}\" value=\"{}\">",
            escape(value)
        ));
    }
    let client_uri = consent
        .client_uri
        .map(|uri| format!("<dt>Client website</dt><dd>{}</dd>", escape(uri)))
        .unwrap_or_default();
    let local = if consent.local_redirect {
        "<p class=\"warn\">This client receives the answer on this computer \
         (a local address). Approve only if you just started it yourself.</p>"
    } else {
        ""
    };
    page(
        StatusCode::OK,
        "Authorize access",
        &format!(
            "<h1>Authorize <span id=\"client-name\">{name}</span>?</h1>\
             <p>It asks to use your deployment <strong id=\"deployment\">{deployment}</strong>: \
             to list and call its tools, read its resources and prompts, as you could.</p>\
             <dl><dt>Client</dt><dd id=\"client-id\">{client_id}</dd>{client_uri}\
             <dt>Answer goes to</dt><dd id=\"redirect-host\">{redirect_host}</dd>\
             <dt>Deployment endpoint</dt><dd>{endpoint}</dd>\
             <dt>Signed in as</dt><dd>{username}</dd></dl>{local}\
             <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <div class=\"buttons\">\
             <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\" \
             id=\"approve\">Approve</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
             </div></form><p style=\"font-size:13px;color:#6e6e73\">Full redirect URI: {redirect}</p>",
            name = escape(name),
            deployment = escape(consent.deployment),
            client_id = escape(consent.client_id),
            redirect_host = escape(consent.redirect_host),
            endpoint = escape(consent.endpoint),
            username = escape(consent.username),
            csrf = escape(consent.csrf),
            redirect = escape(consent.redirect_uri),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
