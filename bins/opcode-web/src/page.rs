//! The few HTML pages the server makes itself (a wrong token, a used or expired pairing link, the trust
//! page): one look, from one `<style>` element whose SHA-256 the Content-Security-Policy allows, so they
//! need no inline `style` attributes and no `'unsafe-inline'`.

use std::sync::LazyLock;

use base64::Engine;
use sha2::Digest;

/// The stylesheet of every server-made page.
pub const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;\
line-height:1.5}a.button{display:inline-block;padding:.6rem 1rem;background:#2563eb;color:#fff;\
border-radius:.4rem;text-decoration:none}code.long{word-break:break-all}";

/// `'sha256-…'` of [`CSS`], the CSP source that allows exactly that `<style>` element.
pub static CSS_SOURCE: LazyLock<String> = LazyLock::new(|| {
    let digest = sha2::Sha256::digest(CSS.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
});

/// A whole page titled `opcode-web: {title}` around `body` (HTML the caller made safe).
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>opcode-web: {title}</title><style>{CSS}</style>\n\
         <body>\n{body}\n</body></html>"
    )
}
