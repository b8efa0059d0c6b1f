//! `pipc witness serve` through the real binary, spoken to over HTTP/1.1 as a log would:
//! the C2SP tlog-witness answers (200 with a cosignature that verifies, 409 with the latest
//! size, 422, 404, 403) to checkpoints of a real signed ledger, the state kept across a
//! restart, and `keygen --signing --cosigner`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use pip_runtime::ledger::note::{Checkpoint, NoteSigner, NoteVerifier, NoteVerifiers, SignatureType};
use pip_runtime::ledger::signed::SignedFile;
use pip_runtime::ledger::signed::proof::Prover;
use pip_runtime::ledger::witness::{AddCheckpoint, SIZE_CONTENT_TYPE, cosignatures};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `pipc` to the end and asserts its exit code, showing both streams when it differs.
fn run(dir: &Path, args: &[&str], stdin: &str, code: i32) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(code), "pipc {args:?}\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
    o
}

/// JSON lines of events `from..=to`.
fn events(from: u64, to: u64) -> String {
    (from..=to)
        .map(|i| format!("{{\"subsystem\":\"billing\",\"actor\":\"svc\",\"action\":\"charge\",\"resource\":\"acct/{i}\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect()
}

/// A spec whose ledger checkpoints every 1000 entries (and when `log append` ends).
const SPEC: &str = "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nledger audit {\n  key = env(\"K\")\n  checkpoint every 1000 entries\n}\n";
/// The ledger's checkpoint origin (the spec names none).
const ORIGIN: &str = "pip/demo/audit";

/// A folder with the spec, the ledger's HMAC key `key`, its signing key `sk` and verifier key
/// `vk`, a witness key `wk` and its verifier key `wvk`, and `audit.ledger` of 1500 signed
/// entries (signed checkpoints of sizes 1000 and 1500).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("demo.pips"), SPEC).unwrap();
    run(d, &["keygen", "-o", "key"], "", 0);
    let k = run(d, &["keygen", "--signing", "-o", "sk", "--spec", "demo.pips"], "", 0);
    std::fs::write(d.join("vk"), &k.stdout).unwrap();
    let w = run(d, &["keygen", "--signing", "--cosigner", "-o", "wk", "--name", "witness.example"], "", 0);
    std::fs::write(d.join("wvk"), &w.stdout).unwrap();
    append(d, 1, 1500);
    dir
}

/// Appends events `from..=to` to `audit.ledger`, signed.
fn append(dir: &Path, from: u64, to: u64) {
    let args = ["log", "append", "audit.ledger", "--key-file", "key", "--signing-key", "sk", "--spec", "demo.pips"];
    run(dir, &args, &events(from, to), 0);
}

/// The signed checkpoint note of tree size `size` in `audit.ledger.signed`.
fn note_of_size(dir: &Path, size: u64) -> String {
    let file = SignedFile::read(&dir.join("audit.ledger.signed")).unwrap();
    let note = file.notes.iter().find(|n| n.checkpoint.as_ref().is_ok_and(|c| c.size == size));
    note.unwrap_or_else(|| panic!("no signed checkpoint of size {size}")).message.clone()
}

/// The consistency proof hashes from `old` to `new` of `audit.ledger`.
fn proof(dir: &Path, old: u64, new: u64) -> Vec<[u8; 32]> {
    let l = dir.join("audit.ledger");
    let mut p = Prover::open(&l, &dir.join("audit.ledger.signed"), &dir.join("audit.ledger.tree")).unwrap();
    let c = p.consistency(old, Some(new)).unwrap();
    c.proof.iter().map(|h| base64::engine::general_purpose::STANDARD.decode(h).unwrap().try_into().unwrap()).collect()
}

fn verifiers(dir: &Path, file: &str) -> NoteVerifiers {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    NoteVerifiers::new([NoteVerifier::parse(text.trim()).unwrap()]).unwrap()
}

/// A running `pipc witness serve`, killed when dropped (even when the test fails).
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the witness of `audit.ledger`'s log with state `state` on a free port and waits
    /// until it accepts connections.
    fn start(dir: &Path, state: &str) -> Server {
        // A port free a moment ago: another process could take it meanwhile, which the
        // server's start would then report (and this test with it).
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join(format!("server-{port}.log"));
        let listen = format!("127.0.0.1:{port}");
        let log_arg = format!("{ORIGIN}=vk");
        let args = ["witness", "serve", "--key", "wk", "--log", &log_arg, "--state", state, "--listen", &listen];
        let child = Command::new(env!("CARGO_BIN_EXE_pipc"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server { child, port, log };
        for _ in 0..600 {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the witness exited ({status}) before it listened:\n{}", server.stderr());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the witness did not listen on port {port}:\n{}", server.stderr());
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends one request and reads the whole response.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).unwrap();
        // A server that answers before reading a refused body may close early: not an error here.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        Reply::parse(&raw)
    }

    fn add(&self, body: &str) -> Reply {
        self.request("POST", "/add-checkpoint", body.as_bytes())
    }
}

/// An HTTP response: status, headers (names lowercase) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let raw = text(raw);
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no end of headers in {raw:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: BTreeMap<String, String> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        assert!(!headers.contains_key("transfer-encoding"), "a chunked response: {raw:?}");
        if let Some(len) = headers.get("content-length") {
            assert_eq!(body.len(), len.parse::<usize>().unwrap(), "{raw:?}");
        }
        Reply { status, headers, body: body.to_string() }
    }

    fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", String::as_str)
    }
}

fn add_body(old: u64, proof: Vec<[u8; 32]>, checkpoint: &str) -> String {
    AddCheckpoint { old, proof, checkpoint: checkpoint.to_string() }.encode()
}

#[test]
fn the_witness_cosigns_a_growing_log_and_refuses_stale_tampered_unknown_and_forged_checkpoints() {
    let dir = project();
    let d = dir.path();
    let server = Server::start(d, "witness.state");
    let witness_keys = verifiers(d, "wvk");

    // First sight of the log: from the empty tree, no proof.
    let first = note_of_size(d, 1000);
    let r = server.add(&add_body(0, Vec::new(), &first));
    assert_eq!(r.status, 200, "{r:?}\n{}", server.stderr());
    let cosigned = cosignatures(&first, &r.body, &witness_keys).unwrap();
    assert_eq!(cosigned.len(), 1, "{r:?}");
    assert_eq!(cosigned[0].name, "witness.example");

    // Growth, with the consistency proof from the size the witness cosigned.
    let second = note_of_size(d, 1500);
    let r = server.add(&add_body(1000, proof(d, 1000, 1500), &second));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(cosignatures(&second, &r.body, &witness_keys).unwrap().len(), 1);

    // A log that believes the witness is further behind learns the latest size.
    let r = server.add(&add_body(1000, proof(d, 1000, 1500), &second));
    assert_eq!((r.status, r.content_type(), r.body.as_str()), (409, SIZE_CONTENT_TYPE, "1500\n"), "{r:?}");

    // A proof with one byte changed does not verify.
    append(d, 1501, 2500);
    let third = note_of_size(d, 2500);
    let mut bad = proof(d, 1500, 2500);
    bad[0][0] ^= 1;
    let r = server.add(&add_body(1500, bad, &third));
    assert_eq!(r.status, 422, "{r:?}");

    // A log the witness does not know.
    let other = NoteSigner::generate("other.example/log", SignatureType::Ed25519).unwrap();
    let foreign = Checkpoint { origin: "other.example/log".into(), size: 1, root: [7; 32], extensions: Vec::new() };
    let r = server.add(&add_body(0, Vec::new(), &foreign.sign(&[&other]).unwrap()));
    assert_eq!(r.status, 404, "{r:?}");

    // The log's origin, signed by a key that is not the log's (even with the log's key name).
    let forger = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let forged = Checkpoint { origin: ORIGIN.into(), size: 3000, root: [9; 32], extensions: Vec::new() };
    let r = server.add(&add_body(1500, Vec::new(), &forged.sign(&[&forger]).unwrap()));
    assert_eq!(r.status, 403, "{r:?}");

    // After all the refusals the real growth is still cosigned.
    let r = server.add(&add_body(1500, proof(d, 1500, 2500), &third));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(cosignatures(&third, &r.body, &witness_keys).unwrap().len(), 1);
}

#[test]
fn other_paths_methods_malformed_and_oversized_requests_are_refused() {
    let dir = project();
    let server = Server::start(dir.path(), "witness.state");
    assert_eq!(server.request("POST", "/other", b"x").status, 404);
    assert_eq!(server.request("GET", "/add-checkpoint", b"").status, 405);
    assert_eq!(server.add("not a request").status, 400);
    let huge = vec![b'a'; pip_runtime::ledger::witness::MAX_REQUEST_BYTES + 1];
    let status = server.request("POST", "/add-checkpoint", &huge).status;
    assert!(status == 413 || status == 400, "{status}");
    // The server still answers after them.
    let r = server.add(&add_body(0, Vec::new(), &note_of_size(dir.path(), 1000)));
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn the_state_survives_a_restart_and_sigterm_stops_the_server_cleanly() {
    let dir = project();
    let d = dir.path();
    let mut server = Server::start(d, "witness.state");
    let r = server.add(&add_body(0, Vec::new(), &note_of_size(d, 1000)));
    assert_eq!(r.status, 200, "{r:?}");

    // SIGTERM to the server this test started (its own process id): it exits 0.
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..600 {
        exited = server.child.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = exited.unwrap_or_else(|| panic!("the witness did not stop on SIGTERM:\n{}", server.stderr()));
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    drop(server);

    // A new server over the same state remembers the size it cosigned.
    let server = Server::start(d, "witness.state");
    let r = server.add(&add_body(0, Vec::new(), &note_of_size(d, 1500)));
    assert_eq!((r.status, r.content_type(), r.body.as_str()), (409, SIZE_CONTENT_TYPE, "1000\n"), "{r:?}");
    let r = server.add(&add_body(1000, proof(d, 1000, 1500), &note_of_size(d, 1500)));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(server.stderr().contains("listening on http://127.0.0.1:"), "{}", server.stderr());
}

#[test]
fn keygen_cosigner_prints_only_a_cosignature_verifier_key_and_serve_refuses_other_keys() {
    let dir = project();
    let d = dir.path();
    let printed = std::fs::read_to_string(d.join("wvk")).unwrap();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let v = NoteVerifier::parse(printed.trim()).unwrap();
    assert_eq!((v.name(), v.signature_type()), ("witness.example", SignatureType::CosignatureV1));
    let private = std::fs::read_to_string(d.join("wk")).unwrap();
    assert!(private.starts_with("PRIVATE+KEY+witness.example+"), "{private}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(d.join("wk")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A cosigner key needs a name; the ledger's signing key is no witness key.
    let o = run(d, &["keygen", "--signing", "--cosigner", "-o", "wk2"], "", 2);
    assert!(text(&o.stderr).contains("--name"), "{}", text(&o.stderr));
    let log = format!("{ORIGIN}=vk");
    let o = run(d, &["witness", "serve", "--key", "sk", "--log", &log, "--state", "s", "--listen", "127.0.0.1:0"], "", 2);
    assert!(text(&o.stderr).contains("not a witness cosigning key"), "{}", text(&o.stderr));
    let o = run(d, &["witness", "serve", "--key", "wk", "--log", "no-equals-sign", "--state", "s", "--listen", "127.0.0.1:0"], "", 2);
    assert!(text(&o.stderr).contains("is not `ORIGIN=VKEY`"), "{}", text(&o.stderr));
    assert!(!d.join("s").exists());
}

#[cfg(unix)]
#[test]
fn a_witness_key_open_to_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project();
    let d = dir.path();
    std::fs::set_permissions(d.join("wk"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(d, "witness.state");
    let log = server.stderr();
    assert!(log.contains("warning: witness key file `wk` is accessible to its group and others"), "{log}");
}

#[test]
fn a_state_file_that_cannot_be_written_is_a_500_logged_on_stderr_and_nothing_is_cosigned() {
    let dir = project();
    let d = dir.path();
    let server = Server::start(d, "no-such-folder/witness.state");
    let r = server.add(&add_body(0, Vec::new(), &note_of_size(d, 1000)));
    assert_eq!(r.status, 500, "{r:?}");
    assert!(r.body.contains("no-such-folder/witness.state"), "{r:?}");
    assert!(!r.body.contains("cosignature") && !r.body.contains('\u{2014}'), "{r:?}");
    // The line reaches stderr from the serving thread; give it a bounded while.
    let mut log = String::new();
    for _ in 0..200 {
        log = server.stderr();
        if log.contains("pipc witness: error: witness state `no-such-folder/witness.state`") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the error was not logged:\n{log}");
}
