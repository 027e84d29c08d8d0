//! Images attached to a prompt: what a client sends (`{"media_type":"image/png","data":"<base64>"}`), the
//! checks every layer relies on (one of the four types the Messages API takes, standard base64 that
//! decodes, at most [`MAX_IMAGE_BYTES`] each, at most [`MAX_IMAGES`] per prompt, bytes that really are the
//! named type), and the user message claude reads on its stream-json input: the images as `image` content
//! blocks (base64 source), then the prompt as a `text` block.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Largest image accepted, in bytes once decoded (the Messages API's own limit per image).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

/// Most images one prompt may carry.
pub const MAX_IMAGES: usize = 4;

/// Largest JSON message that carries a prompt with its images ([`MAX_IMAGES`] images of
/// [`MAX_IMAGE_BYTES`] in base64, the longest prompt, and room for the rest of the message).
pub const MAX_MESSAGE_WITH_IMAGES_BYTES: usize =
    MAX_IMAGES * (MAX_IMAGE_BYTES.div_ceil(3) * 4) + crate::request::MAX_PROMPT_BYTES + 64 * 1024;

/// The media types the Messages API takes for an image.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// One image as a client sends it, and as it is logged (`user_prompt`, `prompt_queued`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageAttachment {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: String,
    /// The image's bytes, standard base64 (with padding, no line breaks), no `data:` prefix.
    pub data: String,
}

/// Why an image was refused. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// More than [`MAX_IMAGES`] images.
    #[error("{count} images attached: at most {max} go with one prompt")]
    TooMany {
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A media type the Messages API does not take.
    #[error("image {index}: type {media_type:?} is not one of PNG, JPEG, GIF or WebP (image/png, image/jpeg, image/gif, image/webp)")]
    BadType {
        /// Which image (from 1).
        index: usize,
        /// What was named.
        media_type: String,
    },
    /// `data` is not standard base64.
    #[error("image {index}: data is not base64 (standard alphabet with padding, no data: prefix)")]
    BadBase64 {
        /// Which image (from 1).
        index: usize,
    },
    /// Too large once decoded.
    #[error("image {index} is {len} bytes, more than the {max} bytes (5 MiB) an image may have")]
    TooLarge {
        /// Which image (from 1).
        index: usize,
        /// Its size (or, when it was too long to decode, a lower bound).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not an image of the named type.
    #[error("image {index}: the data is not a {media_type} image")]
    NotThatType {
        /// Which image (from 1).
        index: usize,
        /// What was named.
        media_type: String,
    },
}

/// Whether `bytes` start the way a file of `media_type` does.
fn has_signature(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        _ => false,
    }
}

impl ImageAttachment {
    /// Checks this image (the `index`th, from 1): its type, its base64, its size and its bytes.
    pub fn check(&self, index: usize) -> Result<(), ImageError> {
        if !IMAGE_TYPES.contains(&self.media_type.as_str()) {
            return Err(ImageError::BadType { index, media_type: self.media_type.clone() });
        }
        // 4 base64 characters per 3 bytes: refuse what cannot fit before decoding it
        let at_least = self.data.len() / 4 * 3;
        if at_least > MAX_IMAGE_BYTES + 3 {
            return Err(ImageError::TooLarge { index, len: at_least, max: MAX_IMAGE_BYTES });
        }
        let bytes = Base64::decode_vec(&self.data).map_err(|_| ImageError::BadBase64 { index })?;
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(ImageError::TooLarge { index, len: bytes.len(), max: MAX_IMAGE_BYTES });
        }
        if !has_signature(&self.media_type, &bytes) {
            return Err(ImageError::NotThatType { index, media_type: self.media_type.clone() });
        }
        Ok(())
    }

    /// The Messages API's `image` content block for it.
    pub fn content_block(&self) -> Value {
        json!({"type":"image","source":{"type":"base64","media_type":self.media_type,"data":self.data}})
    }
}

/// Checks the images of one prompt: how many, and each one.
pub fn check_images(images: &[ImageAttachment]) -> Result<(), ImageError> {
    if images.len() > MAX_IMAGES {
        return Err(ImageError::TooMany { count: images.len(), max: MAX_IMAGES });
    }
    images.iter().enumerate().try_for_each(|(i, image)| image.check(i + 1))
}

/// The user message for claude's stream-json input: the prompt as plain text when there are no images
/// (exactly as before images existed), else the images as content blocks followed by the prompt's text
/// block (left out when the prompt is blank).
pub fn user_message(prompt: &str, images: &[ImageAttachment]) -> String {
    let content = if images.is_empty() {
        Value::String(prompt.to_owned())
    } else {
        let mut blocks: Vec<Value> = images.iter().map(ImageAttachment::content_block).collect();
        if !prompt.trim().is_empty() {
            blocks.push(json!({"type":"text","text":prompt}));
        }
        Value::Array(blocks)
    };
    json!({"type":"user","message":{"role":"user","content":content}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1×1 PNG.
    const PNG: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    fn png() -> ImageAttachment {
        ImageAttachment { media_type: "image/png".into(), data: PNG.into() }
    }

    #[test]
    fn a_real_png_passes_and_becomes_an_image_block_before_the_text() {
        check_images(&[png()]).unwrap();
        let line: Value = serde_json::from_str(&user_message("what is this?", &[png()])).unwrap();
        assert_eq!(line["message"]["content"][0]["type"], "image");
        assert_eq!(line["message"]["content"][0]["source"]["media_type"], "image/png");
        assert_eq!(line["message"]["content"][0]["source"]["data"], PNG);
        assert_eq!(line["message"]["content"][1], json!({"type":"text","text":"what is this?"}));
        let plain: Value = serde_json::from_str(&user_message("hi", &[])).unwrap();
        assert_eq!(plain["message"]["content"], "hi", "no images: the content stays a string");
    }

    #[test]
    fn wrong_types_bad_base64_too_many_and_too_large_are_refused_with_the_image_named() {
        let svg = ImageAttachment { media_type: "image/svg+xml".into(), ..png() };
        assert!(matches!(check_images(&[svg]), Err(ImageError::BadType { index: 1, .. })));
        let garbled = ImageAttachment { data: "not base64!!".into(), ..png() };
        assert_eq!(check_images(&[png(), garbled]), Err(ImageError::BadBase64 { index: 2 }));
        let prefixed = ImageAttachment { data: format!("data:image/png;base64,{PNG}"), ..png() };
        assert_eq!(check_images(&[prefixed]), Err(ImageError::BadBase64 { index: 1 }));
        let jpeg_named = ImageAttachment { media_type: "image/jpeg".into(), ..png() };
        assert!(matches!(check_images(&[jpeg_named]), Err(ImageError::NotThatType { index: 1, .. })));
        assert!(matches!(check_images(&vec![png(); MAX_IMAGES + 1]), Err(ImageError::TooMany { .. })));
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        let big = ImageAttachment { media_type: "image/png".into(), data: Base64::encode_string(&big) };
        assert!(matches!(check_images(&[big]), Err(ImageError::TooLarge { index: 1, .. })));
    }
}
