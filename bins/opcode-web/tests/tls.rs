//! HTTPS: a client that trusts the local CA gets the app with HSTS and a `Secure` cookie, WebSockets
//! work over TLS, plain HTTP on the same port is redirected to `https://` (or given the CA), and the CA
//! is downloadable without the token; a client that does not trust the CA gets no connection.

mod common;

use std::sync::Arc;

use common::*;
use opcode_tls::{machine_names, HostName, LocalCa};
use opcode_web::trust::PublicCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Https {
    server: TestServer,
    ca: LocalCa,
    _dir: tempfile::TempDir,
}

async fn https() -> Https {
    let dir = tempfile::tempdir().unwrap();
    let (ca, created) = LocalCa::load_or_create(dir.path()).unwrap();
    assert!(created);
    let names: Vec<HostName> = machine_names().into_iter().filter(LocalCa::vouches_for).collect();
    let leaf = ca.issue(&names).unwrap();
    let config = opcode_tls::server_config(&leaf.cert_pem, &leaf.key_pem, "test").unwrap();
    let server = TestServer::start_tls(config, Some(PublicCa::of(&ca))).await;
    Https { server, ca, _dir: dir }
}

impl Https {
    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.server.addr.port())
    }

    /// A client that trusts the local CA only, and follows no redirect.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.cert_pem().as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Sends `request` as plain text to the HTTPS port and returns the whole answer.
    async fn plain(&self, request: &str) -> String {
        let mut tcp = tokio::net::TcpStream::connect(self.server.addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(LIMIT, tcp.read_to_end(&mut answer)).await.expect("answer in time").unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }
}

#[tokio::test]
async fn a_client_trusting_the_ca_gets_hsts_and_a_secure_cookie() {
    let https = https().await;
    let client = https.client();
    let health = client.get(https.url("127.0.0.1", "/api/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.headers()["strict-transport-security"], "max-age=31536000");

    let entry = client.get(https.url("127.0.0.1", &format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!(entry.status(), 303);
    let cookie = entry.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let api = client
        .get(https.url("127.0.0.1", "/api/projects"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200, "the cookie works over HTTPS");

    // by name, too; no HSTS for localhost (it would hold for every local port)
    let by_name = client.get(https.url("localhost", "/api/health")).send().await.unwrap();
    assert_eq!(by_name.status(), 200);
    assert!(by_name.headers().get("strict-transport-security").is_none());
    https.server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_gets_no_connection() {
    let https = https().await;
    let stranger = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    let err = stranger.get(https.url("127.0.0.1", "/api/health")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // and the server goes on serving
    assert_eq!(https.client().get(https.url("127.0.0.1", "/api/health")).send().await.unwrap().status(), 200);
    https.server.stop().await;
}

#[tokio::test]
async fn websockets_run_over_tls() {
    let https = https().await;
    let mut roots = opcode_tls::rustls::RootCertStore::empty();
    roots.add(https.ca.cert_der().clone()).unwrap();
    let config = opcode_tls::rustls::ClientConfig::builder_with_provider(Arc::new(
        opcode_tls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(https.server.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(opcode_tls::rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = https.url("localhost", "/ws/claude").replace("https://", "wss://").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    assert_eq!(response.status(), 101);
    use futures::{SinkExt, StreamExt};
    ws.send(https.server.request("execute", "over tls", None).into()).await.unwrap();
    loop {
        let message = tokio::time::timeout(LIMIT, ws.next()).await.expect("events in time").unwrap().unwrap();
        let event: serde_json::Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        if event["type"] == "completion" {
            assert_eq!(event["status"], "success", "{event}");
            break;
        }
    }
    https.server.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_redirected() {
    let https = https().await;
    let port = https.server.addr.port();
    let answer = https.plain(&format!("GET /sessions?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains(&format!("location: https://127.0.0.1:{port}/sessions?x=1\r\n")),
        "{answer}"
    );

    let answer = https.plain("GET / HTTP/1.0\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.0 400") || answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("this port speaks HTTPS"), "{answer}");

    // a foreign host name is refused as over HTTPS (no open redirect for rebinding names)
    let answer = https.plain(&format!("GET / HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    // the CA itself comes over plain HTTP: a phone needs it before it can trust the HTTPS
    let plain = reqwest::Client::new();
    let ca = plain.get(format!("http://127.0.0.1:{port}/ca.crt")).send().await.unwrap();
    assert_eq!(ca.status(), 200);
    assert_eq!(ca.headers()["content-type"], "application/x-x509-ca-cert");
    assert_eq!(ca.bytes().await.unwrap().as_ref(), https.ca.cert_der().as_ref());
    // and HTTPS still works after all that
    assert_eq!(https.client().get(https.url("127.0.0.1", "/api/health")).send().await.unwrap().status(), 200);
    https.server.stop().await;
}

#[tokio::test]
async fn the_ca_is_downloadable_without_the_token_and_only_the_certificate() {
    let https = https().await;
    let client = https.client();
    let pem = client.get(https.url("127.0.0.1", "/ca.pem")).send().await.unwrap();
    assert_eq!(pem.status(), 200);
    assert_eq!(pem.headers()["content-type"], "application/x-pem-file");
    assert!(pem.headers()["content-disposition"].to_str().unwrap().contains("opcode-web-ca.pem"));
    let text = pem.text().await.unwrap();
    assert_eq!(text, https.ca.cert_pem());
    assert!(!text.contains("PRIVATE KEY"));

    let crt = client.get(https.url("127.0.0.1", "/ca.crt")).send().await.unwrap();
    assert_eq!(crt.status(), 200);
    assert_eq!(crt.bytes().await.unwrap().as_ref(), https.ca.cert_der().as_ref());

    let page = client.get(https.url("127.0.0.1", "/trust")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = page.text().await.unwrap();
    assert!(page.contains(&https.ca.fingerprint()), "the page shows the fingerprint to compare");
    assert!(page.contains("Android") && page.contains("iPhone"));
    assert!(!page.contains(TOKEN));
    https.server.stop().await;
}

#[tokio::test]
async fn without_a_local_ca_the_routes_say_how_to_get_one() {
    let server = TestServer::start().await;
    for path in ["/ca.pem", "/ca.crt", "/trust"] {
        let response = server.http().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.text().await.unwrap().contains("--tls-local-ca"), "{path}");
    }
    // plain HTTP: no Secure cookie, no HSTS
    let entry = server.http().get(server.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert!(!entry.headers()["set-cookie"].to_str().unwrap().contains("Secure"));
    assert!(entry.headers().get("strict-transport-security").is_none());
    server.stop().await;
}
