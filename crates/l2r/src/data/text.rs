//! Text clean-up shared by the loaders: byte decoding, whitespace normalisation, HTML stripping.

use crate::error::{Error, Result};
use std::path::Path;

/// The characters Windows-1252 puts at 0x80..=0x9F, where Latin-1 has C1 controls. The five bytes
/// Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) keep their Latin-1 code point.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
];

/// Decodes a shipped asset: UTF-8 when valid, else Windows-1252 (a superset of printable Latin-1).
/// Never fails, because our own assets are known to be one or the other; user files go through
/// [`decode_strict`] instead.
pub fn decode_lenient(bytes: &[u8]) -> String {
    let bytes = strip_bom(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| cp1252_char(b)).collect(),
    }
}

fn cp1252_char(byte: u8) -> char {
    match byte {
        0x80..=0x9F => CP1252_HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Decodes a user file that must be UTF-8; the error names the file and the 1-based line of the
/// first bad byte, so the user can find and re-encode it.
pub fn decode_strict(bytes: &[u8], path: &Path) -> Result<String> {
    let bytes = strip_bom(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
            let column = 1 + valid.iter().rev().take_while(|&&b| b != b'\n').count();
            Err(Error::parse(
                path,
                line,
                None,
                format!(
                    "invalid UTF-8 at byte {} (column {column}): save the file as UTF-8",
                    e.valid_up_to()
                ),
            ))
        }
    }
}

/// Collapses every run of whitespace (and control characters, which some e-mails carry) into one
/// space and trims the ends, so that equal texts compare equal whatever their line breaks.
pub fn normalize_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Joins a title and a body as one passage: `title. body`, without doubling the title's own
/// final punctuation (`Why now? body`). Both parts are whitespace-normalised; either may be empty.
pub fn join_title(title: &str, body: &str) -> String {
    let title = normalize_whitespace(title);
    let body = normalize_whitespace(body);
    match (title.is_empty(), body.is_empty()) {
        (true, _) => body,
        (false, true) => title,
        (false, false) if title.ends_with(['.', '!', '?', ':', ';']) => format!("{title} {body}"),
        (false, false) => format!("{title}. {body}"),
    }
}

/// True when a "plain text" body is really HTML (common in spam sent without a Content-Type).
pub fn looks_like_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "<html", "<body", "<br", "<p>", "<font", "<table", "<a href", "<div",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

/// Reduces HTML to its visible text: drops comments, `<script>`/`<style>`/`<head>` contents and
/// all tags (each tag becomes a space so words on either side stay apart), decodes entities and
/// normalises whitespace. A forgiving scanner, not a parser: malformed markup never fails.
pub fn strip_html(html: &str) -> String {
    let mut visible = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        visible.push_str(&rest[..start]);
        visible.push(' ');
        rest = skip_markup(&rest[start..]);
    }
    visible.push_str(rest);
    normalize_whitespace(&decode_entities(&visible))
}

/// `markup` starts with `<`; returns what follows the comment or tag (and, for elements whose
/// content is not shown, what follows their closing tag).
fn skip_markup(markup: &str) -> &str {
    if let Some(comment) = markup.strip_prefix("<!--") {
        return comment.find("-->").map_or("", |end| &comment[end + 3..]);
    }
    let after_tag = markup[1..].find('>').map_or("", |end| &markup[end + 2..]);
    let name: String = markup[1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    // An unclosed <script>/<style> hides the rest of the page, as in a browser; an unclosed
    // <head>/<title> (frequent in spam) must not swallow the body, so only the tag goes.
    let unclosed = match name.as_str() {
        "script" | "style" => "",
        "head" | "title" => after_tag,
        _ => return after_tag,
    };
    let closing = format!("</{name}");
    match find_ascii_case_insensitive(after_tag, &closing) {
        Some(end) => {
            let tail = &after_tag[end..];
            tail.find('>').map_or("", |gt| &tail[gt + 1..])
        }
        None => unclosed,
    }
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    // ASCII lowering keeps byte offsets, so a hit in the lowered copy is a hit in the original.
    haystack.to_ascii_lowercase().find(needle)
}

/// Decodes `&name;`, `&#NNN;` and `&#xHH;` entities; an unknown or malformed one is kept as is.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&semi| semi > 0 && semi <= 10)
            .and_then(|semi| entity_char(&rest[1..semi + 1]).map(|c| (c, semi + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity_char(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "middot" => '·',
        "pound" => '£',
        "euro" => '€',
        "cent" => '¢',
        "yen" => '¥',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_decoding_falls_back_to_windows_1252() {
        assert_eq!(decode_lenient("café".as_bytes()), "café");
        assert_eq!(decode_lenient(b"caf\xe9 \x93q\x94 \x80"), "café “q” €");
        assert_eq!(decode_lenient(b"\xEF\xBB\xBFhi"), "hi");
    }

    #[test]
    fn strict_decoding_names_file_and_line() {
        let path = Path::new("dir/tasks.csv");
        assert_eq!(decode_strict(b"a\nb", path).unwrap(), "a\nb");
        let err = decode_strict(b"text,label\nok,1\ncaf\xe9,2\n", path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dir/tasks.csv"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        assert_eq!(normalize_whitespace("  a\r\n\tb \u{0}  c\n"), "a b c");
        assert_eq!(normalize_whitespace(" \n "), "");
    }

    #[test]
    fn titles_join_without_doubled_punctuation() {
        assert_eq!(join_title("Title", " body\n text"), "Title. body text");
        assert_eq!(join_title("Why now?", "body"), "Why now? body");
        assert_eq!(join_title("", "body"), "body");
        assert_eq!(join_title("Title", ""), "Title");
    }

    #[test]
    fn html_is_reduced_to_visible_text() {
        let html = "<html><head><title>T</title><style>p {color: red}</style></head>\
                    <BODY><p>Buy&nbsp;now &amp; save&#33;</p><!-- hidden --><br>\
                    <SCRIPT>alert(1)</SCRIPT>Visit<a href=\"x\">here</a> \
                    &bogus; &#x263A;</BODY></html>";
        assert_eq!(
            strip_html(html),
            "Buy now & save! Visit here &bogus; \u{263A}"
        );
        assert!(looks_like_html("hello <BR> there"));
        assert!(!looks_like_html("a < b and c > d"));
    }

    #[test]
    fn malformed_html_never_fails() {
        assert_eq!(strip_html("a <b unclosed"), "a");
        assert_eq!(strip_html("a <!-- open comment"), "a");
        assert_eq!(strip_html("<script>never closed"), "");
        assert_eq!(strip_html("x & y &;"), "x & y &;");
        assert_eq!(decode_entities("&#99999999;&#xZZ;"), "&#99999999;&#xZZ;");
    }
}
