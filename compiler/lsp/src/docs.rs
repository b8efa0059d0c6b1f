//! The language reference, `docs/language.md`, compiled in: hovers quote the section of a
//! construct keyword and the lines and paragraph that explain a setting, so the editor says
//! exactly what the reference says.

/// `docs/language.md`.
use pip_frontend::ir::ConstructKind;

const LANGUAGE: &str = include_str!("../../../docs/language.md");

/// The section `` ## `<keyword>` `` of the reference, up to the next `##` heading.
pub fn section(keyword: &str) -> Option<&'static str> {
    section_in(LANGUAGE, keyword)
}

/// What the reference says of `setting` in the section of `keyword`: the lines of its
/// example block that set it, and the first paragraph that names it. A setting several kinds
/// share (`runbook`, `doc`) may be explained only once: then the `spec` section's, or the
/// first other construct's, is quoted, naming where it comes from.
pub fn setting(keyword: &str, setting: &str) -> Option<String> {
    if let Some(s) = setting_in(keyword, setting) {
        return Some(s);
    }
    let others = std::iter::once("spec").chain(ConstructKind::ALL.map(ConstructKind::keyword)).filter(|k| *k != keyword);
    others.into_iter().find_map(|k| setting_in(k, setting).map(|s| format!("(as in `{k}`)\n\n{s}")))
}

fn setting_in(keyword: &str, setting: &str) -> Option<String> {
    let section = section(keyword)?;
    let mut example = Vec::new();
    let mut in_code = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let t = line.trim_start();
        if in_code && t.strip_prefix(setting).is_some_and(|r| r.starts_with([' ', '=', '\t'])) {
            example.push(t.trim_end());
        }
    }
    let quoted = format!("`{setting}`");
    let paragraph = paragraphs(section).find(|p| !p.starts_with('#') && !p.starts_with("```") && p.contains(&quoted));
    if example.is_empty() && paragraph.is_none() {
        return None;
    }
    let mut out = String::new();
    if !example.is_empty() {
        out.push_str("```\n");
        out.push_str(&example.join("\n"));
        out.push_str("\n```\n");
    }
    if let Some(p) = paragraph {
        out.push('\n');
        out.push_str(p);
    }
    Some(out)
}

fn section_in<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let heading = format!("## `{keyword}`");
    let start = line_offsets(text).find(|&i| text.get(i..).is_some_and(|l| l.starts_with(&heading)))?;
    let end =
        line_offsets(text).filter(|&i| i > start).find(|&i| text.get(i..).is_some_and(|l| l.starts_with("## "))).unwrap_or(text.len());
    text.get(start..end).map(str::trim_end)
}

fn line_offsets(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

/// The blank-line-separated paragraphs of a section, trimmed.
fn paragraphs(section: &str) -> impl Iterator<Item = &str> {
    section.split("\n\n").map(str::trim).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_has_a_section_and_every_setting_an_explanation() {
        for kind in ConstructKind::ALL {
            let s = section(kind.keyword());
            assert!(s.is_some_and(|s| s.starts_with(&format!("## `{}`", kind.keyword()))), "no section for {kind:?}");
            for name in pip_frontend::ast_to_ir::settings(kind) {
                assert!(setting(kind.keyword(), name).is_some(), "docs/language.md does not explain `{name}` of `{}`", kind.keyword());
            }
        }
        assert!(section("spec").is_some());
    }

    #[test]
    fn a_setting_is_shown_with_its_example_line() {
        let s = setting("rate_limit", "max_keys").unwrap_or_default();
        assert!(s.contains("max_keys = 50_000"), "{s}");
    }
}
