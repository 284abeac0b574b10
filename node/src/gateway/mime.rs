//! Content types of served files: from the name's extension (`mime_guess`), else sniffed
//! from the first bytes (a small subset of the WHATWG MIME sniffing rules: the signatures
//! of common web media, HTML, then text vs binary).

/// Bytes of a file's start [`sniff`] looks at.
pub const SNIFF_LEN: usize = 512;

/// The type for a file named `name`, from its extension.
pub fn by_name(name: &str) -> Option<String> {
    let ext = name.rsplit_once('.')?.1;
    if ext.is_empty() {
        return None;
    }
    let guess = mime_guess::from_ext(ext).first_raw()?;
    Some(with_charset(guess))
}

/// Text types get an explicit UTF-8 charset, as browsers otherwise guess.
fn with_charset(t: &str) -> String {
    let texty = t.starts_with("text/") || t == "application/javascript" || t == "image/svg+xml";
    if texty && !t.contains("charset") {
        format!("{t}; charset=utf-8")
    } else {
        t.to_string()
    }
}

/// The type of content starting with `head` (at most [`SNIFF_LEN`] bytes of it).
pub fn sniff(head: &[u8]) -> &'static str {
    let head = &head[..head.len().min(SNIFF_LEN)];
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"OggS\x00", "application/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b\x08", "application/gzip"),
        (b"\x00asm", "application/wasm"),
        (b"wOFF", "font/woff"),
        (b"wOF2", "font/woff2"),
        (b"BM", "image/bmp"),
        (b"\x00\x00\x01\x00", "image/x-icon"),
    ];
    for (magic, ty) in MAGIC {
        if head.starts_with(magic) {
            return ty;
        }
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        match &head[8..12] {
            b"WEBP" => return "image/webp",
            b"WAVE" => return "audio/wav",
            b"AVI " => return "video/x-msvideo",
            _ => {}
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return match &head[8..12] {
            b"avif" => "image/avif",
            b"M4A " => "audio/mp4",
            _ => "video/mp4",
        };
    }
    let text = skip_ws_and_bom(head);
    if is_html(text) {
        return "text/html; charset=utf-8";
    }
    if starts_with_ci(text, b"<?xml") {
        return if contains_ci(text, b"<svg") {
            "image/svg+xml"
        } else {
            "text/xml; charset=utf-8"
        };
    }
    if starts_with_ci(text, b"<svg") {
        return "image/svg+xml";
    }
    if head.iter().any(|&b| is_binary(b)) {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn skip_ws_and_bom(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let n = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        .count();
    &b[n..]
}

fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains_ci(b: &[u8], needle: &[u8]) -> bool {
    b.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// WHATWG's HTML patterns: a tag name followed by a space or `>`.
fn is_html(b: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    TAGS.iter().any(|tag| {
        starts_with_ci(b, tag)
            && (tag == b"<!--" || matches!(b.get(tag.len()), Some(b' ' | b'>' | b'\t' | b'\n')))
    })
}

/// Bytes that never occur in text (WHATWG's "binary data byte").
fn is_binary(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(
            by_name("index.html").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(by_name("a.css").as_deref(), Some("text/css; charset=utf-8"));
        assert_eq!(by_name("clip.webm").as_deref(), Some("video/webm"));
        assert_eq!(by_name("x.PNG").as_deref(), Some("image/png"));
        assert_eq!(by_name("noext"), None);
        assert_eq!(by_name("trailing."), None);
        assert_eq!(by_name("x.unknownext123"), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(
            sniff(b"  <!DOCTYPE html><html>"),
            "text/html; charset=utf-8"
        );
        assert_eq!(sniff(b"<p>hi</p>"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<pre>"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\x00\x00\x00\x18ftypmp42"), "video/mp4");
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x01"), "video/webm");
        assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp");
        assert_eq!(
            sniff("héllo wörld\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff(b"\x01\x02\x03"), "application/octet-stream");
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg>"), "image/svg+xml");
    }
}
