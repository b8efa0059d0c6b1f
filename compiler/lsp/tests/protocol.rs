//! The server driven over an in-memory connection, as a client drives it: each feature's
//! answer checked for the specs of a folder on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::Url;
use serde_json::{Value, json};

const SPEC: &str = r#"spec shop version "1.0.0" {
  owner   = "team-shop"
  runbook = "https://runbooks.example.com/shop"
}

ledger audit {
  doc = "every sale"
  key = env("SHOP_AUDIT_KEY")
}

invariant stock_non_negative {
  severity = P1
  ensures  stock >= 0
  evidence = audit
}

rate_limit per_buyer {
  key      = buyer
  limit    = 10 per 1s
  severity = P2

}

bundle incident {
  window = 1h
  include ledger audit, specs
}

dashboard shop {
  title = "Shop"
  row "Stock" { stock_non_negative, audit }
}
"#;

/// A client over an in-memory connection, with the server on its own thread.
struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), pip_lsp::Error>>>,
    next: i32,
    /// Notifications received while waiting for responses.
    notes: Vec<Notification>,
}

impl Client {
    fn start() -> Client {
        let (server, conn) = Connection::memory();
        let handle = std::thread::spawn(move || pip_lsp::serve(&server));
        let mut c = Client { conn, server: Some(handle), next: 0, notes: Vec::new() };
        let init = c.request("initialize", json!({ "capabilities": {}, "processId": null, "rootUri": null }));
        assert!(init["capabilities"]["hoverProvider"].as_bool().unwrap_or(false), "{init}");
        assert_eq!(init["capabilities"]["textDocumentSync"], json!(1));
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.to_string(), params))).unwrap();
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Response {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.to_string(), params))).unwrap();
        loop {
            match self.conn.receiver.recv_timeout(Duration::from_secs(60)).expect("the server answers") {
                Message::Response(r) if r.id == id => return r,
                Message::Notification(n) => self.notes.push(n),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let r = self.request_raw(method, params);
        assert!(r.error.is_none(), "{method}: {:?}", r.error);
        r.result.unwrap_or(Value::Null)
    }

    /// The latest diagnostics published for `uri`, waiting for them.
    fn diagnostics(&mut self, uri: &Url) -> Vec<Value> {
        loop {
            if let Some(n) =
                self.notes.iter().rev().find(|n| n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri.as_str())
            {
                return n.params["diagnostics"].as_array().cloned().unwrap_or_default();
            }
            match self.conn.receiver.recv_timeout(Duration::from_secs(60)).expect("diagnostics are published") {
                Message::Notification(n) => self.notes.push(n),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn open(&mut self, uri: &Url, text: &str) {
        self.notes.clear();
        self.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "pips", "version": 1, "text": text } }));
    }

    fn at(&mut self, method: &str, uri: &Url, line: u32, character: u32) -> Value {
        let mut params = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } });
        if method == "textDocument/references" {
            params["context"] = json!({ "includeDeclaration": true });
        }
        self.request(method, params)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(h) = self.server.take()
            && !std::thread::panicking()
        {
            let _ = self.request_raw("shutdown", Value::Null);
            self.notify("exit", Value::Null);
            assert!(h.join().expect("the server thread does not panic").is_ok());
        }
    }
}

/// `(line, character)` of the `nth` occurrence of `needle` in `text`, plus `skip` characters.
fn pos(text: &str, needle: &str, nth: usize, skip: u32) -> (u32, u32) {
    let at = text.match_indices(needle).nth(nth).map(|(i, _)| i).expect("needle present");
    let before = &text[..at];
    let line = before.matches('\n').count() as u32;
    let col = (at - before.rfind('\n').map_or(0, |i| i + 1)) as u32;
    (line, col + skip)
}

fn folder_with(text: &str) -> (tempfile::TempDir, Url) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.pips");
    std::fs::write(&path, text).unwrap();
    let uri = Url::from_file_path(&path).unwrap();
    (dir, uri)
}

#[test]
fn a_spec_with_an_error_gets_the_checks_diagnostic_with_its_range_and_code() {
    let broken = SPEC.replace("evidence = audit", "evidence = audti");
    let (_dir, uri) = folder_with(&broken);
    let mut c = Client::start();
    c.open(&uri, &broken);
    let diags = c.diagnostics(&uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "pips::unresolved");
    assert_eq!(d["severity"], 1);
    let (line, col) = pos(&broken, "audti", 0, 0);
    assert_eq!(d["range"], json!({ "start": { "line": line, "character": col }, "end": { "line": line, "character": col + 5 } }));
    let message = d["message"].as_str().unwrap_or("");
    assert!(message.contains("no `ledger` named `audti`") && message.contains("help: did you mean `audit`"), "{message}");

    // Fixing it clears the diagnostic.
    c.notes.clear();
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": SPEC }] }));
    assert_eq!(c.diagnostics(&uri), Vec::<Value>::new());
}

#[test]
fn a_file_is_checked_with_the_other_files_of_its_folder() {
    let (dir, uri) = folder_with("spec shop version \"1.0.0\" {\n  owner = \"t\"\n  runbook = \"https://r.example.com/\"\n}\n");
    let other = dir.path().join("more.pips");
    let text = "spec shop\n\ninvariant x {\n  severity = P1\n  ensures a > 0\n  evidence = audit\n}\n";
    std::fs::write(&other, text).unwrap();
    let other_uri = Url::from_file_path(&other).unwrap();
    let mut c = Client::start();
    c.open(&uri, &std::fs::read_to_string(uri.to_file_path().unwrap()).unwrap());
    assert_eq!(c.diagnostics(&uri), Vec::<Value>::new());
    let theirs = c.diagnostics(&other_uri);
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["code"], "pips::unresolved");
    // Defining the ledger in the open (unsaved) document resolves it.
    c.notes.clear();
    let with_ledger =
        format!("{}\nledger audit {{\n  key = env(\"K\")\n}}\n", std::fs::read_to_string(uri.to_file_path().unwrap()).unwrap());
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": with_ledger }] }),
    );
    assert_eq!(c.diagnostics(&other_uri), Vec::<Value>::new());
}

#[test]
fn secondary_labels_become_related_information() {
    let text = SPEC.replace("rate_limit per_buyer", "rate_limit audit");
    let (_dir, uri) = folder_with(&text);
    let mut c = Client::start();
    c.open(&uri, &text);
    let diags = c.diagnostics(&uri);
    let dup = diags.iter().find(|d| d["code"] == "pips::duplicate-name").expect("a duplicate-name diagnostic");
    let related = &dup["relatedInformation"][0];
    assert_eq!(related["message"], "first defined here");
    let (line, col) = pos(&text, "ledger audit", 0, 7);
    assert_eq!(related["location"]["range"]["start"], json!({ "line": line, "character": col }));
    assert_eq!(related["location"]["uri"], uri.as_str());
}

#[test]
fn hover_explains_keywords_settings_and_references() {
    let (_dir, uri) = folder_with(SPEC);
    let mut c = Client::start();
    c.open(&uri, SPEC);
    let (l, ch) = pos(SPEC, "rate_limit", 0, 2);
    let h = c.at("textDocument/hover", &uri, l, ch);
    let text = h["contents"]["value"].as_str().unwrap_or("");
    assert!(text.starts_with("## `rate_limit`") && text.contains("sliding window"), "{text}");

    let (l, ch) = pos(SPEC, "evidence = audit", 0, 12);
    let h = c.at("textDocument/hover", &uri, l, ch);
    let text = h["contents"]["value"].as_str().unwrap_or("");
    assert!(text.contains("**ledger** `audit`") && text.contains("every sale") && text.contains("shop.pips:6"), "{text}");

    let (l, ch) = pos(SPEC, "limit    = 10", 0, 1);
    let h = c.at("textDocument/hover", &uri, l, ch);
    let text = h["contents"]["value"].as_str().unwrap_or("");
    assert!(text.contains("setting `limit`") && text.contains("100 per 1s"), "{text}");
}

#[test]
fn definition_and_references_follow_every_use_of_a_name() {
    let (_dir, uri) = folder_with(SPEC);
    let mut c = Client::start();
    c.open(&uri, SPEC);
    let (l, ch) = pos(SPEC, "include ledger audit", 0, 16);
    let d = c.at("textDocument/definition", &uri, l, ch);
    let (dl, dc) = pos(SPEC, "ledger audit {", 0, 7);
    assert_eq!(d["uri"], uri.as_str());
    assert_eq!(d["range"]["start"], json!({ "line": dl, "character": dc }));

    let refs = c.at("textDocument/references", &uri, dl, dc + 1);
    let mut starts: Vec<(u64, u64)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["range"]["start"]["line"].as_u64().unwrap(), r["range"]["start"]["character"].as_u64().unwrap()))
        .collect();
    starts.sort();
    let mut expected: Vec<(u64, u64)> =
        [pos(SPEC, "ledger audit {", 0, 7), pos(SPEC, "= audit", 0, 2), pos(SPEC, "ledger audit,", 0, 7), pos(SPEC, " audit }", 0, 1)]
            .into_iter()
            .map(|(a, b)| (a as u64, b as u64))
            .collect();
    expected.sort();
    assert_eq!(starts, expected);
}

#[test]
fn completion_offers_keywords_settings_and_names_in_scope() {
    let (_dir, uri) = folder_with(SPEC);
    let mut c = Client::start();
    c.open(&uri, SPEC);
    let labels = |v: Value| -> Vec<String> {
        v.as_array().cloned().unwrap_or_default().iter().map(|i| i["label"].as_str().unwrap_or("").to_string()).collect()
    };
    // The blank line inside `rate_limit per_buyer`.
    let (l, _) = pos(SPEC, "severity = P2\n\n", 0, 0);
    let got = labels(c.at("textDocument/completion", &uri, l + 1, 2));
    let expected: Vec<String> =
        pip_frontend::ast_to_ir::settings(pip_frontend::ir::ConstructKind::RateLimit).iter().map(|s| s.to_string()).collect();
    assert_eq!(got, expected);
    // Top level: every construct keyword.
    let got = labels(c.at("textDocument/completion", &uri, 4, 0));
    for k in pip_frontend::ir::ConstructKind::ALL {
        assert!(got.iter().any(|g| g == k.keyword()), "{got:?} lacks {}", k.keyword());
    }
    // After `evidence =`: the ledgers.
    let typing = SPEC.replace("evidence = audit", "evidence = ");
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": typing }] }));
    let (l, ch) = pos(&typing, "evidence = ", 0, 11);
    assert_eq!(labels(c.at("textDocument/completion", &uri, l, ch)), vec!["audit".to_string()]);
}

#[test]
fn document_symbols_list_each_construct_with_its_kind() {
    let (_dir, uri) = folder_with(SPEC);
    let mut c = Client::start();
    c.open(&uri, SPEC);
    let symbols = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    let got: Vec<(String, String)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["detail"].as_str().unwrap_or("").to_string(), s["name"].as_str().unwrap_or("").to_string()))
        .collect();
    let expected = [
        ("spec", "shop"),
        ("ledger", "audit"),
        ("invariant", "stock_non_negative"),
        ("rate_limit", "per_buyer"),
        ("bundle", "incident"),
        ("dashboard", "shop"),
    ];
    assert_eq!(got, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    let (l, _) = pos(SPEC, "ledger audit", 0, 0);
    assert_eq!(symbols[1]["range"]["start"]["line"], l);
    assert_eq!(symbols[1]["range"]["end"]["line"], l + 3);
}

#[test]
fn formatting_returns_the_formatters_text_and_refuses_broken_files() {
    let messy = SPEC.replace("  doc = \"every sale\"", "      doc =    \"every sale\"");
    let (_dir, uri) = folder_with(&messy);
    let mut c = Client::start();
    c.open(&uri, &messy);
    let edits =
        c.request("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }));
    let (_, compiled) = pip_frontend::compile_str("x.pips", &messy);
    assert!(!compiled.has_errors());
    let tree = pip_frontend::text_to_ast::parse(pip_frontend::span::FileId(0), &messy).unwrap();
    assert_eq!(edits[0]["newText"], pip_frontend::fmt::format(&messy, &tree));
    assert!(edits[0]["newText"].as_str().unwrap().contains("  doc = \"every sale\""));

    let broken = format!("{messy}\nledger {{");
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": broken }] }));
    let r = c.request_raw(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let err = r.error.expect("an error response");
    assert!(err.message.contains("syntax errors"), "{}", err.message);
    assert!(c.notes.iter().any(|n| n.method == "window/showMessage"), "a message is shown");
}

#[test]
fn random_edits_and_positions_never_crash_the_server() {
    let (_dir, uri) = folder_with(SPEC);
    let mut c = Client::start();
    c.open(&uri, SPEC);
    // A small deterministic generator (xorshift): the same cases every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let pieces = ["{", "}", "\"", "`", "/*", "//", "=", "\n", "é", "𝄞", "ledger ", "evidence = ", "row \"x\" {", "include ledger "];
    let mut text = SPEC.to_string();
    for round in 0..150 {
        let mut at = next(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        if next(3) == 0 && at < text.len() {
            let mut end = (at + next(20)).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(at..end, "");
        } else {
            text.insert_str(at, pieces[next(pieces.len())]);
        }
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": round + 2 }, "contentChanges": [{ "text": text }] }),
        );
        let line = next(text.lines().count() + 3) as u32;
        let character = next(90) as u32;
        for method in ["textDocument/hover", "textDocument/definition", "textDocument/references", "textDocument/completion"] {
            let mut params = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } });
            if method == "textDocument/references" {
                params["context"] = json!({ "includeDeclaration": false });
            }
            let r = c.request_raw(method, params);
            assert!(r.error.is_none(), "{method} at {line}:{character} failed: {:?}", r.error);
        }
        let _ = c.request_raw(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
        let _ = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    }
    // Malformed parameters are an error response, not a crash.
    let r = c.request_raw("textDocument/hover", json!({ "nonsense": true }));
    assert!(r.error.is_some());
}
