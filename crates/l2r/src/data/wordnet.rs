//! WordNet 3.0 glosses classified by supersense (lexicographer file). The text is the gloss only
//! (definition and any example sentences) — never the synset's words, so the task is to
//! recognise the kind of thing a definition describes.

use super::split::dedup_by_text;
use super::text::{decode_lenient, normalize_whitespace};
use super::{Dataset, Example};
use crate::error::{Error, Result};
use std::path::Path;

/// The 45 lexicographer file names, indexed by the `lex_filenum` field of the data files
/// (WordNet's `lexnames` file, which the Debian data package does not ship).
pub const LEXNAMES: [&str; 45] = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
];

/// A part of speech, i.e. one `data.<pos>` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordnetPos {
    Noun,
    Verb,
    Adj,
    Adv,
}

impl WordnetPos {
    /// `noun`, `verb`, `adj`, `adv`: the data file's suffix and the lexnames' prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Noun => "noun",
            Self::Verb => "verb",
            Self::Adj => "adj",
            Self::Adv => "adv",
        }
    }

    /// The lexnames that can occur in this part of speech's data file.
    pub fn lexnames(self) -> impl Iterator<Item = &'static str> {
        let prefix = format!("{}.", self.as_str());
        LEXNAMES.into_iter().filter(move |n| n.starts_with(&prefix))
    }
}

/// Loads the glosses of the shipped `data.<pos>` whose lexname is one of `classes` (the labels,
/// in the given order).
pub fn load_wordnet(pos: WordnetPos, classes: &[&str]) -> Result<Dataset> {
    let path = crate::assets::asset_dir("wordnet")?.join(format!("data.{}", pos.as_str()));
    crate::assets::require_file(&path, "WordNet data file")?;
    let mut data = load_wordnet_file(&path, pos, classes)?;
    data.name = format!("wordnet-{}", pos.as_str());
    Ok(data)
}

/// Loads a WordNet `data.<pos>` file, keeping the synsets of `classes`. The licence header
/// (lines starting with two spaces) is skipped; exact duplicate glosses are dropped.
pub fn load_wordnet_file(path: &Path, pos: WordnetPos, classes: &[&str]) -> Result<Dataset> {
    let class_of_lexfile = class_table(pos, classes)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut examples = Vec::new();
    for (i, line) in decode_lenient(&bytes).lines().enumerate() {
        if line.starts_with("  ") || line.trim().is_empty() {
            continue;
        }
        let (lex_filenum, gloss) = parse_line(line, path, i + 1)?;
        if let Some(label) = class_of_lexfile[lex_filenum] {
            if !gloss.is_empty() {
                examples.push(Example { text: gloss, label });
            }
        }
    }
    let (examples, dropped) = dedup_by_text(examples);
    tracing::debug!(
        dropped,
        kept = examples.len(),
        "WordNet: dropped duplicate glosses"
    );
    let data = Dataset {
        name: format!("wordnet-{}", pos.as_str()),
        labels: classes.iter().map(|&c| c.to_owned()).collect(),
        examples,
    };
    data.check()?;
    Ok(data)
}

/// For each lex_filenum, the label index of its class, if requested. Rejects unknown names,
/// names of another part of speech and repeats, listing the valid names.
fn class_table(pos: WordnetPos, classes: &[&str]) -> Result<[Option<usize>; 45]> {
    if classes.is_empty() {
        return Err(Error::invalid("no WordNet classes requested"));
    }
    let mut table = [None; 45];
    for (label, &class) in classes.iter().enumerate() {
        let of_pos = pos.lexnames().any(|n| n == class);
        let Some(num) = LEXNAMES.iter().position(|&n| n == class).filter(|_| of_pos) else {
            let valid: Vec<&str> = pos.lexnames().collect();
            return Err(Error::invalid(format!(
                "'{class}' is not a {} lexname; valid: {}",
                pos.as_str(),
                valid.join(", ")
            )));
        };
        if table[num].replace(label).is_some() {
            return Err(Error::invalid(format!(
                "WordNet class '{class}' requested twice"
            )));
        }
    }
    Ok(table)
}

/// `synset_offset lex_filenum ss_type w_cnt word lex_id ... | gloss` → (lex_filenum, gloss).
fn parse_line(line: &str, path: &Path, line_no: usize) -> Result<(usize, String)> {
    let lex_filenum = line
        .split(' ')
        .nth(1)
        .and_then(|f| f.parse::<usize>().ok())
        .filter(|&n| n < LEXNAMES.len())
        .ok_or_else(|| {
            Error::parse(
                path,
                line_no,
                Some("lex_filenum"),
                "expected a number 00..44 as the second field",
            )
        })?;
    let gloss = line
        .split_once(" | ")
        .map(|(_, g)| g)
        .ok_or_else(|| Error::parse(path, line_no, Some("gloss"), "no ' | ' before the gloss"))?;
    Ok((lex_filenum, normalize_whitespace(gloss)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // `concat!` rather than `\` line continuations, which would eat the licence lines' indent.
    const DATA_NOUN: &str = concat!(
        "  1 This software and database is being provided to you, the LICENSEE, by  \n",
        "  2 Princeton University under the following license.  \n",
        "00015388 03 n 01 animal 0 002 @ 00004475 n 0000 | a living organism characterized by voluntary movement  \n",
        "01503061 05 n 01 bird 0 001 @ 01471682 n 0000 | warm-blooded egg-laying vertebrates characterized by feathers; \"birds fly\"  \n",
        "02084071 05 n 02 dog 0 domestic_dog 0 000 | a member of the genus Canis  \n",
        "02084072 05 n 01 hound 0 000 | a member of the genus Canis  \n",
        "07707451 13 n 01 vegetable 0 000 | edible seeds or roots or stems or leaves of plants  \n",
        "03082979 06 n 01 computer 0 000 | a machine for performing calculations automatically  \n",
    );

    fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.noun");
        std::fs::write(&path, DATA_NOUN).unwrap();
        (dir, path)
    }

    #[test]
    fn lexname_table_is_the_standard_one() {
        assert_eq!(LEXNAMES[3], "noun.Tops");
        assert_eq!(LEXNAMES[5], "noun.animal");
        assert_eq!(LEXNAMES[29], "verb.body");
        assert_eq!(LEXNAMES[43], "verb.weather");
        assert_eq!(WordnetPos::Noun.lexnames().count(), 26);
        assert_eq!(WordnetPos::Verb.lexnames().count(), 15);
        assert_eq!(
            WordnetPos::Adj.lexnames().collect::<Vec<_>>(),
            vec!["adj.all", "adj.pert", "adj.ppl"]
        );
    }

    #[test]
    fn keeps_requested_classes_gloss_only_deduplicated() {
        let (_dir, path) = fixture();
        let data =
            load_wordnet_file(&path, WordnetPos::Noun, &["noun.food", "noun.animal"]).unwrap();
        assert_eq!(data.labels, vec!["noun.food", "noun.animal"]);
        let got: Vec<(&str, usize)> = data
            .examples
            .iter()
            .map(|e| (e.text.as_str(), e.label))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "warm-blooded egg-laying vertebrates characterized by feathers; \"birds fly\"",
                    1
                ),
                ("a member of the genus Canis", 1),
                ("edible seeds or roots or stems or leaves of plants", 0),
            ]
        );
    }

    #[test]
    fn bad_class_names_are_rejected() {
        let (_dir, path) = fixture();
        let err = load_wordnet_file(&path, WordnetPos::Noun, &["verb.body"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a noun lexname") && err.contains("noun.animal"),
            "{err}"
        );
        let err = load_wordnet_file(&path, WordnetPos::Noun, &["noun.food", "noun.food"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn malformed_line_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.verb");
        let content = concat!(
            "  licence\n",
            "00001 29 v 01 breathe 0 000 | draw air\n",
            "00002 xx v 01 run 0 000 | move fast\n"
        );
        std::fs::write(&path, content).unwrap();
        let err = load_wordnet_file(&path, WordnetPos::Verb, &["verb.body"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data.verb") && err.contains("line 3") && err.contains("'lex_filenum'"),
            "{err}"
        );
        std::fs::write(&path, "00001 29 v 01 breathe 0 000 draw air\n").unwrap();
        let err = load_wordnet_file(&path, WordnetPos::Verb, &["verb.body"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("'gloss'"), "{err}");
    }

    #[test]
    fn shipped_noun_and_verb_tasks() {
        let Some(_) = super::super::asset_or_skip("wordnet") else {
            return;
        };
        for (name, classes) in [("wordnet-noun", 8), ("wordnet-verb", 6)] {
            let data = super::super::load_builtin(name).unwrap();
            eprintln!("{name}: {}", data.class_summary());
            assert_eq!(data.name, name);
            assert_eq!(data.labels.len(), classes);
            assert!(
                data.class_counts().iter().all(|&c| c >= 200),
                "{}",
                data.class_summary()
            );
        }
    }
}
