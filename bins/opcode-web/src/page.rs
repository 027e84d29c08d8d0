//! The few HTML pages the server makes itself (a wrong token, a used or expired pairing link, the trust
//! page): one look, from one `<style>` element, and no script.

/// The stylesheet of every server-made page.
pub const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;\
line-height:1.5}a.button{display:inline-block;padding:.6rem 1rem;background:#2563eb;color:#fff;\
border-radius:.4rem;text-decoration:none}code.long{word-break:break-all}";

/// A whole page titled `opcode-web: {title}` around `body` (HTML the caller made safe).
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>opcode-web: {title}</title><style>{CSS}</style>\n\
         <body>\n{body}\n</body></html>"
    )
}
