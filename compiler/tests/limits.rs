//! Hostile input never panics the compiler: garbage, empty files, huge lines, deep nesting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use pip_compiler::diagnostics::{self, Style};
use pip_compiler::source::{SourceFile, Sources};
use pip_compiler::text_to_ast::MAX_NESTING;

const HEADER: &str = "spec s version \"1\" {\n  owner = \"a\"\n  runbook = \"https://x.example\"\n}\n";

fn compile_and_render(bytes: Vec<u8>) -> (bool, String) {
    let mut sources = Sources::new();
    sources.add(SourceFile::from_bytes("t.pips", Default::default(), bytes));
    let c = pip_compiler::compile(&sources);
    let human = diagnostics::render_human(&sources, &c.diagnostics, Style::default());
    let json = diagnostics::render_json(&sources, &c.diagnostics);
    (c.has_errors(), human + &json)
}

#[test]
fn nesting_at_the_limit_parses_on_a_test_thread_stack() {
    // Test threads have 2 MiB stacks; the limit must leave room for syn in debug builds.
    let depth = MAX_NESTING - 2;
    let expr = format!("{}x{}", "(".repeat(depth), ")".repeat(depth));
    let text = format!("{HEADER}\ninvariant i {{\n  severity = P1\n  requires {expr} > 0\n}}\n");
    let (errors, out) = compile_and_render(text.into_bytes());
    assert!(!errors, "{out}");
}

#[test]
fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
    for opener in ["(", "[", "{"] {
        let text = format!("{HEADER}\ninvariant i {{\n  requires {}\n}}\n", opener.repeat(200_000));
        let (errors, out) = compile_and_render(text.into_bytes());
        assert!(errors);
        assert!(out.contains("pips::too-deep"), "{out}");
    }
    let promql = format!("{HEADER}\nthreshold t {{\n  expr = `{}up{}`\n  warn when > 1\n}}\n", "(".repeat(100), ")".repeat(100));
    assert!(compile_and_render(promql.into_bytes()).1.contains("pips::too-deep"));
}

#[test]
fn a_ten_megabyte_line_gives_a_short_diagnostic() {
    let mut text = String::from(HEADER);
    text.push_str("ledger l {\n  doc = \"");
    text.push_str(&"x".repeat(10 << 20));
    text.push_str("\" key = 5\n}\n");
    let (errors, out) = compile_and_render(text.into_bytes());
    assert!(errors);
    assert!(out.len() < 20_000, "diagnostic output is {} bytes", out.len());
    let mut garbage = String::from(HEADER);
    garbage.push_str(&"@".repeat(10 << 20));
    let (errors, out) = compile_and_render(garbage.into_bytes());
    assert!(errors);
    assert!(out.len() < 20_000, "diagnostic output is {} bytes", out.len());
}

#[test]
fn binary_garbage_and_empty_input_are_errors() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..1 << 16)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    assert!(compile_and_render(garbage).0);
    assert!(compile_and_render(Vec::new()).0);
    assert!(compile_and_render(b"\0\0\0".to_vec()).0);
    assert!(compile_and_render("\u{FEFF}".as_bytes().to_vec()).0);
}

#[test]
fn many_errors_in_one_file_are_all_reported() {
    let mut text = String::from(HEADER);
    for i in 0..500 {
        text.push_str(&format!("bundle b{i} {{ window = 0s include specs }}\n"));
    }
    let mut sources = Sources::new();
    sources.add(SourceFile::new("t.pips", text));
    let c = pip_compiler::compile(&sources);
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == pip_compiler::diagnostics::Code::ZeroWindow).count(), 500);
}

#[test]
fn snippets_never_carry_control_characters_to_the_terminal() {
    // An OSC title change, a bell, a C1 CSI, and a NUL in the lines around an error.
    let text = "spec s version \"1\" {\n  owner = \"a\u{1b}]0;PWNED\u{7}\u{9b}31m\0\"\n  runbook = 5\n}\n";
    let mut sources = Sources::new();
    sources.add(SourceFile::from_bytes("t.pips", Default::default(), text.as_bytes().to_vec()));
    let c = pip_compiler::compile(&sources);
    assert!(c.has_errors());
    for color in [false, true] {
        let human = diagnostics::render_human(&sources, &c.diagnostics, Style { color, ..Style::default() });
        assert!(human.contains("owner = \"a?]0;PWNED?¿31m?\""), "{human}");
        assert!(!human.contains(['\u{7}', '\u{9b}', '\0']) && !human.contains("\u{1b}]"), "{human:?}");
        // The underline still points at the right column (offsets were kept).
        assert!(human.contains("t.pips:3:13"), "{human}");
    }
}
