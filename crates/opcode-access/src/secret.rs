//! Random credentials and their hashes: 256 bits from the OS, hex; stored as SHA-256 (a random 256-bit
//! secret needs no slow hash), compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS random source, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // the OS random source failing is not something a server can go on without
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: 32 random bytes, 64 hex characters.
pub fn new_secret() -> String {
    random_hex(32)
}

/// SHA-256 of `secret`, hex: what the store keeps.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `a` equals `b`, in time independent of where they differ.
pub fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `s` looks like one of our secrets or ids (hex, `len` characters): anything else is refused
/// before it is hashed or looked up.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_hex_and_hash_stably() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(is_hex(&a, 64));
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!is_hex("../../etc/passwd", 16));
        assert!(equal(&a, &a) && !equal(&a, &b));
    }
}
