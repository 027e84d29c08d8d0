//! QR codes for the terminal: the URL to open, drawn with Unicode half blocks (two modules per
//! character), so a phone opens it by pointing its camera at the terminal.
//!
//! Light modules are drawn (`█`, `▀`, `▄`) and dark ones left blank, with the 4-module quiet zone drawn
//! too: on the usual dark terminal that reads as dark-on-light, as a camera expects. (Phone scanners
//! also read the inverse, for light terminals.)

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;

/// `text` as a QR code of half-block characters, one line per two module rows; `None` when it is too
/// long for a QR code.
pub fn render(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a rendering back into pixels (drawn = light), scaled up, and decodes it.
    fn decode(image: &str) -> String {
        let scale = 4;
        let rows: Vec<Vec<bool>> = image
            .lines()
            .flat_map(|line| {
                let top = line.chars().map(|c| matches!(c, '█' | '▀')).collect::<Vec<_>>();
                let bottom = line.chars().map(|c| matches!(c, '█' | '▄')).collect::<Vec<_>>();
                [top, bottom]
            })
            .collect();
        let (width, height) = (rows[0].len() * scale, rows.len() * scale);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            if rows[y / scale][x / scale] {
                255
            } else {
                0
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_code_decodes_back_to_the_url() {
        let url = "https://192.168.1.23:8080/?token=4f1c2b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170ab";
        let image = render(url).unwrap();
        assert!(image.lines().all(|l| l.chars().all(|c| " █▀▄".contains(c))), "half blocks only");
        assert!(!image.contains("token"), "the token is in the picture, not in the text");
        assert_eq!(decode(&image), url);
    }

    #[test]
    fn a_text_too_long_for_a_code_is_none() {
        assert!(render(&"x".repeat(8000)).is_none());
    }
}
