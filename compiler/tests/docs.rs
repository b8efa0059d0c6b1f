//! The language reference lists exactly the labels the checker reserves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

#[test]
fn the_reference_lists_every_reserved_label() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("may not be one pip sets itself").expect("the reserved-label sentence");
    let end = start + text[start..].find(").").unwrap();
    let listed: Vec<&str> = text[start..end].split('`').skip(1).step_by(2).collect();
    assert_eq!(listed, pip_conventions::RESERVED_LABELS, "docs/language.md and pip_conventions::RESERVED_LABELS differ");
}
