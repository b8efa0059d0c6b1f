//! A ledger's signing settings (`signing_key`, `origin`, `witness`, `witness_quorum`,
//! `witness_silence`) from text to IR: the defaults the IR fills in, `pipc fmt`'s round trip
//! of the `witness` statement, and each error's code, message, underlined text and help.
//! (The fixtures under `tests/fixtures/` pin the rendered reports.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use pip_frontend::diagnostics::Code;
use pip_frontend::ir::{DEFAULT_WITNESS_SILENCE, KeySource, Spec};
use pip_frontend::source::{SourceFile, Sources};
use pip_frontend::units::Duration;

const W1: &str = "w1.example.com+a7d18111+BNdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
const W2: &str = "w2.example.com+b972946f+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM";
const W3: &str = "w3.example.com+9a60bd44+BPxRzY5iGKGjjaR+0AIw8FgIFu0TujMDrF3rkRVIkIAl";

fn spec_text(ledger_body: &str) -> String {
    format!(
        "spec payments version \"1.0.0\" {{\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/p\"\n}}\n\nledger audit {{\n  key = env(\"PIP_AUDIT_KEY\")\n{ledger_body}}}\n"
    )
}

fn sources(text: &str) -> Sources {
    let mut s = Sources::new();
    s.add(SourceFile::new("demo.pips", text));
    s
}

fn compile_ok(ledger_body: &str) -> Spec {
    let text = spec_text(ledger_body);
    let c = pip_frontend::compile(&sources(&text));
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    c.specs.into_iter().next().unwrap()
}

/// (code, underlined text, message, help) of every diagnostic.
fn errors(ledger_body: &str) -> Vec<(Code, String, String, Option<String>)> {
    let text = spec_text(ledger_body);
    let s = sources(&text);
    let c = pip_frontend::compile(&s);
    assert!(c.specs.is_empty(), "a spec with errors produced IR");
    let file = s.get(pip_frontend::span::FileId(0)).unwrap();
    c.diagnostics.iter().map(|d| (d.code, file.slice(d.span).to_string(), d.message.clone(), d.help.clone())).collect()
}

#[test]
fn a_ledger_without_signing_key_has_no_signing() {
    let spec = compile_ok("");
    assert_eq!(spec.ledgers[0].signing, None);
}

#[test]
fn signing_defaults_to_the_pip_origin_all_witnesses_and_an_hour_of_silence() {
    let spec = compile_ok(&format!(
        "  signing_key = file(\"/run/secrets/signing\")\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness \"https://w2.example.com/\" key \"{W2}\"\n"
    ));
    let s = spec.ledgers[0].signing.as_ref().unwrap();
    assert_eq!(s.key, KeySource::File("/run/secrets/signing".into()));
    assert_eq!(s.origin, "pip/payments/audit");
    assert_eq!(s.quorum, 2);
    assert_eq!(s.silence, DEFAULT_WITNESS_SILENCE);
    assert_eq!(DEFAULT_WITNESS_SILENCE, Duration::from_secs(3600));
    let w: Vec<(&str, &str, &str)> = s.witnesses.iter().map(|w| (w.url.as_str(), w.key.as_str(), w.name.as_str())).collect();
    assert_eq!(w, [("https://w1.example.com/", W1, "w1.example.com"), ("https://w2.example.com/", W2, "w2.example.com")]);

    let alone = compile_ok("  signing_key = env(\"PIP_AUDIT_SIGNING_KEY\")\n");
    let s = alone.ledgers[0].signing.as_ref().unwrap();
    assert_eq!((s.key.clone(), s.quorum, s.witnesses.len()), (KeySource::Env("PIP_AUDIT_SIGNING_KEY".into()), 0, 0));
}

#[test]
fn written_settings_reach_the_ir() {
    let spec = compile_ok(&format!(
        "  signing_key = env(\"S\")\n  origin = \"payments.example.com/audit\"\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness \"https://w2.example.com/\" key \"{W2}\"\n  witness \"http://w3.example.com:8080\" key \"{W3}\"\n  witness_quorum = 2\n  witness_silence = 90m\n"
    ));
    let s = spec.ledgers[0].signing.as_ref().unwrap();
    assert_eq!(s.origin, "payments.example.com/audit");
    assert_eq!(s.quorum, 2);
    assert_eq!(s.silence, Duration::from_secs(5400));
    assert_eq!(s.witnesses.len(), 3);
    assert_eq!(s.witnesses[2].source.line, 12, "each witness points at its own line");
}

#[test]
fn the_witness_statement_formats_canonically_and_round_trips() {
    let text = spec_text(&format!(
        "  signing_key = env(\"S\") // the signing key\n  witness   \"https://w1.example.com/\"  key\t\"{W1}\" /* public */\n  witness_quorum = 1\n"
    ));
    let ast = pip_frontend::text_to_ast::parse(pip_frontend::span::FileId(0), &text).unwrap();
    let formatted = pip_frontend::fmt::format(&text, &ast);
    pip_frontend::fmt::verify(&text, &ast, &formatted).unwrap();
    assert!(formatted.contains(&format!("\n  witness \"https://w1.example.com/\" key \"{W1}\" /* public */\n")), "{formatted}");
    let again = pip_frontend::text_to_ast::parse(pip_frontend::span::FileId(0), &formatted).unwrap();
    assert_eq!(pip_frontend::fmt::format(&formatted, &again), formatted);
}

#[test]
fn an_inline_signing_key_is_refused_like_an_inline_key() {
    let e = errors("  signing_key = \"s3cr3t\"\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    let (code, underlined, message, help) = &e[0];
    assert_eq!((*code, underlined.as_str()), (Code::KeySource, "\"s3cr3t\""));
    assert_eq!(message, "a signing key comes from `env(\"NAME\")` or `file(\"path\")`");
    assert_eq!(help.as_deref(), Some("keys are never written in a spec: name the environment variable or file that holds it"));
}

#[test]
fn every_setting_that_needs_signing_is_pointed_at_without_it() {
    let e = errors(&format!(
        "  origin = \"o.example\"\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness_quorum = 1\n  witness_silence = 5m\n"
    ));
    let at: Vec<(Code, &str)> = e.iter().map(|(c, u, _, _)| (*c, u.as_str())).collect();
    let witness_line = format!("witness \"https://w1.example.com/\" key \"{W1}\"");
    assert_eq!(
        at,
        [
            (Code::MissingSetting, "origin"),
            (Code::MissingSetting, witness_line.as_str()),
            (Code::MissingSetting, "witness_quorum"),
            (Code::MissingSetting, "witness_silence")
        ]
    );
    for (_, _, message, help) in &e {
        assert!(message.ends_with("needs `signing_key`"), "{message}");
        assert!(help.as_deref().is_some_and(|h| h.starts_with("add `signing_key = env(\"")), "{help:?}");
    }
}

#[test]
fn quorum_and_silence_need_a_witness_and_the_quorum_at_most_all_of_them() {
    let e = errors("  signing_key = env(\"S\")\n  witness_quorum = 1\n");
    assert_eq!((e[0].0, e[0].1.as_str()), (Code::MissingSetting, "witness_quorum"), "{e:#?}");
    let e = errors(&format!("  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness_quorum = 2\n"));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].0, e[0].1.as_str(), e[0].2.as_str()),
        (Code::WitnessQuorum, "2", "the witness quorum 2 is more than the ledger's 1 witness")
    );
    let e = errors(&format!("  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness_quorum = 0\n"));
    assert_eq!((e[0].0, e[0].1.as_str()), (Code::ZeroCount, "0"));
    let e = errors(&format!("  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness_silence = 5MiB\n"));
    assert_eq!((e[0].0, e[0].1.as_str()), (Code::TypeMismatch, "5MiB"));
}

#[test]
fn duplicate_witnesses_point_at_both() {
    let text = spec_text(&format!(
        "  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\" key \"{W1}\"\n  witness \"https://w1.example.com/\" key \"{W2}\"\n"
    ));
    let s = sources(&text);
    let c = pip_frontend::compile(&s);
    let d = c.diagnostics.iter().find(|d| d.code == Code::DuplicateSetting).unwrap();
    let file = s.get(pip_frontend::span::FileId(0)).unwrap();
    assert_eq!(file.slice(d.span), "\"https://w1.example.com/\"");
    assert_eq!(d.secondary.len(), 1);
    assert!(d.secondary[0].0.start < d.span.start, "the second label points at the first witness");
}

#[test]
fn a_witness_key_must_be_a_cosignature_key_with_its_key_id() {
    let note_key = "w1.example.com+45631baa+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
    let renamed = W1.replace("w1.example.com", "w9.example.com");
    for (key, message) in [
        (note_key, "the witness key is a note-signing key (type 0x01), not a cosignature key"),
        (renamed.as_str(), "the key id a7d18111 does not match the witness key's name and key material, which give"),
        ("w1.example.com", "the witness key is not `<name>+<key id>+<key>`"),
    ] {
        let e = errors(&format!("  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\" key \"{key}\"\n"));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!((e[0].0, e[0].1.as_str()), (Code::VerifierKey, format!("\"{key}\"").as_str()));
        assert!(e[0].2.starts_with(message), "{}", e[0].2);
    }
}

#[test]
fn a_witness_without_its_key_is_a_syntax_error_naming_key() {
    let text = spec_text("  signing_key = env(\"S\")\n  witness \"https://w1.example.com/\"\n");
    let e = pip_frontend::text_to_ast::parse(pip_frontend::span::FileId(0), &text).unwrap_err();
    assert_eq!(e[0].code, Code::Syntax);
    assert_eq!(e[0].message, "expected `key`, found `}`");
}

#[test]
fn origins_are_checked_against_the_checkpoint_rules() {
    for (origin, code) in [
        ("payments audit", Code::InvalidOrigin),
        ("a+b", Code::InvalidOrigin),
        ("https://payments.example.com/audit", Code::InvalidOrigin),
        ("", Code::EmptyString),
    ] {
        let e = errors(&format!("  signing_key = env(\"S\")\n  origin = \"{origin}\"\n"));
        assert_eq!((e[0].0, e[0].1.as_str()), (code, format!("\"{origin}\"").as_str()), "{e:#?}");
    }
    let long = "a".repeat(256);
    let e = errors(&format!("  signing_key = env(\"S\")\n  origin = \"{long}\"\n"));
    assert_eq!(e[0].2, "the origin is 256 bytes long, more than 255");
    let fits = "a".repeat(255);
    assert_eq!(
        compile_ok(&format!("  signing_key = env(\"S\")\n  origin = \"{fits}\"\n")).ledgers[0].signing.as_ref().unwrap().origin,
        fits
    );
}
