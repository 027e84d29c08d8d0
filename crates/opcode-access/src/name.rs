//! A device's default name, from its `User-Agent`: "Chrome on Android", "Safari on iPhone".

/// "Browser on platform" from `user_agent` (woothee's parser), or "Unknown browser".
pub fn device_name(user_agent: &str) -> String {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    match parsed {
        Some(r) if r.name != "UNKNOWN" && r.os != "UNKNOWN" => format!("{} on {}", r.name, r.os),
        Some(r) if r.name != "UNKNOWN" => r.name.to_owned(),
        _ => "Unknown browser".to_owned(),
    }
}

/// The longest name a device may have (characters).
pub const MAX_NAME_CHARS: usize = 64;

/// `name` trimmed, if it is a name a device may have: 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters.
pub fn checked_name(name: &str) -> Option<String> {
    let name = name.trim();
    let ok = !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_browser_and_platform() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
        assert_eq!(device_name(android), "Chrome on Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(iphone), "Safari on iPhone");
        // a tool is named by woothee's kind for it; nothing recognisable reads as such
        assert_eq!(device_name("curl/8.0"), "HTTP Library");
        assert_eq!(device_name(""), "Unknown browser");
        assert_eq!(device_name("xyzzy"), "Unknown browser");
        assert_eq!(checked_name("  my phone "), Some("my phone".into()));
        assert_eq!(checked_name(""), None);
        assert_eq!(checked_name("a\nb"), None);
        assert_eq!(checked_name(&"x".repeat(65)), None);
    }
}
