//! The local CA for phones to trust: `GET /ca.pem`, `GET /ca.crt` and the `GET /trust` page that walks
//! through installing it on Android and iOS.
//!
//! Only the CA's public certificate is here (never its key). These routes need no token: the certificate
//! is public (it proves nothing by itself and grants nothing), and a phone must fetch it *before* it can
//! reach the server over a connection it trusts, so asking it for the token first would send the token
//! over exactly the connection it cannot check yet. They are served over plain HTTP too (see
//! [`crate::tls`]). The fingerprint on the page and in the terminal lets a person check that the
//! certificate the phone got is the one the server made. The CA is name-constrained to local names and
//! private addresses (`opcode-tls`), so trusting it cannot put any public site at risk.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The local CA's public certificate, as served.
#[derive(Debug, Clone)]
pub struct PublicCa {
    /// PEM.
    pub pem: String,
    /// DER (what `/ca.crt` sends; Android and iOS install it as it is).
    pub der: Vec<u8>,
    /// SHA-256 fingerprint, `AB:CD:…`.
    pub fingerprint: String,
}

impl PublicCa {
    /// The public part of `ca`.
    pub fn of(ca: &opcode_tls::LocalCa) -> Arc<PublicCa> {
        Arc::new(PublicCa { pem: ca.cert_pem().to_owned(), der: ca.cert_der().to_vec(), fingerprint: ca.fingerprint() })
    }
}

/// `/ca.pem`, `/ca.crt`, `/trust`; each a `404` that says why when the server has no local CA.
pub fn routes() -> Router<AppState> {
    Router::new().route("/ca.pem", get(ca_pem)).route("/ca.crt", get(ca_crt)).route("/trust", get(trust_page))
}

fn no_local_ca() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this server has no local certificate authority: start opcode-web with --tls-local-ca to make one\n",
    )
        .into_response()
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn ca_pem(State(state): State<AppState>) -> Response {
    match &state.local_ca {
        Some(ca) => download(ca.pem.clone().into_bytes(), "application/x-pem-file", "opcode-web-ca.pem"),
        None => no_local_ca(),
    }
}

async fn ca_crt(State(state): State<AppState>) -> Response {
    match &state.local_ca {
        Some(ca) => download(ca.der.clone(), "application/x-x509-ca-cert", "opcode-web-ca.crt"),
        None => no_local_ca(),
    }
}

async fn trust_page(State(state): State<AppState>) -> Response {
    let Some(ca) = &state.local_ca else { return no_local_ca() };
    Html(crate::page::html("trust this server", &TRUST_BODY.replace("{fingerprint}", &ca.fingerprint))).into_response()
}

const TRUST_BODY: &str = r#"<h1>Trust this opcode-web server</h1>
<p>This server's HTTPS certificate comes from a certificate authority it made itself. Install that
authority once on this device; from then on the browser trusts the server (a secure context: the app can
be installed, notify you, and use the microphone).</p>
<p><a class="button" href="/ca.crt">Download the certificate</a>
&nbsp;(<a href="/ca.pem">PEM</a>)</p>
<p>Check that its SHA-256 fingerprint is the one opcode-web printed in its terminal:<br>
<code class="long">{fingerprint}</code></p>
<h2>Android</h2>
<ol><li>Download the certificate above.</li>
<li>Settings → Security (or "Security &amp; privacy") → More security settings → Encryption &amp; credentials →
Install a certificate → <b>CA certificate</b> → Install anyway → pick <code>opcode-web-ca.crt</code>.</li>
<li>Open the link (or scan the QR code) that opcode-web printed: <code>https://…/?token=…</code>.</li></ol>
<h2>iPhone and iPad</h2>
<ol><li>Open this page in Safari and download the certificate; allow the profile download.</li>
<li>Settings → General → VPN &amp; Device Management → the opcode-web profile → Install.</li>
<li>Settings → General → About → Certificate Trust Settings → turn on full trust for the opcode-web CA.</li>
<li>Open the link (or scan the QR code) that opcode-web printed: <code>https://…/?token=…</code>.</li></ol>
<p>The authority can only vouch for local names and private addresses (<code>localhost</code>,
<code>*.local</code>, <code>10.*</code>, <code>192.168.*</code>, …), never for a public site. To stop trusting
it, remove it in the same settings.</p>"#;
