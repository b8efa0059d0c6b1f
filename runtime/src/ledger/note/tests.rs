//! Tests of keys and signed notes, against the published vectors of Go's
//! `golang.org/x/mod/sumdb/note` (`note_test.go`) and of c2sp.org/signed-note.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod checkpoints;
mod interop;

use super::keys::key_id;
use super::*;

// golang.org/x/mod sumdb/note/note_test.go, TestNewVerifier / TestNewSigner / TestSign.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
// note_test.go, TestVerifierList / TestOpen.
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str =
    "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn verifiers(keys: &[&str]) -> NoteVerifiers {
    NoteVerifiers::new(keys.iter().map(|k| NoteVerifier::parse(k).unwrap())).unwrap()
}

fn peter_note() -> String {
    format!("{TEXT}\n{PETER_SIG}")
}

#[test]
fn go_verifier_key_parses_and_formats_back_unchanged() {
    let v = NoteVerifier::parse(PETER_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), 0xc74f_20a3);
    assert_eq!(v.signature_type(), SignatureType::Ed25519);
    assert_eq!(v.to_text(), PETER_VKEY);
    assert_eq!(key_id("PeterNeumann", SignatureType::Ed25519, &v.public_key()), 0xc74f_20a3);
}

#[test]
fn go_private_key_parses_derives_its_verifier_and_formats_back_unchanged() {
    let s = NoteSigner::parse_private(PETER_SKEY).unwrap();
    assert_eq!(s.verifier().to_text(), PETER_VKEY);
    assert_eq!(s.to_private_text().as_str(), PETER_SKEY);
}

#[test]
fn every_substring_and_byte_increment_of_a_go_verifier_key_is_refused() {
    // The manglings of note_test.go's TestNewVerifier.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(NoteVerifier::parse(&s).is_err(), "{s:?} was accepted");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        assert!(NoteVerifier::parse(&String::from_utf8_lossy(&m)).is_err(), "byte {i} +1 was accepted");
    }
    // Wrong key length and unknown algorithm, each with an adjusted key id (note_test.go).
    let long = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    // Go refuses it for its length; strict base64 refuses it sooner (non-zero trailing bits).
    assert_eq!(NoteVerifier::parse(long), Err(NoteError::VerifierKey("the key is not standard base64")));
    let mut short = vec![0x01];
    short.extend_from_slice(&[0x11; 31]);
    let short = format!("PeterNeumann+c74f20a3+{}", b64_encode(&short));
    assert_eq!(NoteVerifier::parse(&short), Err(NoteError::VerifierKey("an Ed25519 public key is 32 bytes")));
    let alien = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_eq!(NoteVerifier::parse(alien), Err(NoteError::UnknownSignatureType(0x65)));
}

#[test]
fn every_substring_and_byte_increment_of_a_go_private_key_is_refused() {
    let b = PETER_SKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                assert!(NoteSigner::parse_private(&String::from_utf8_lossy(&b[i..j])).is_err());
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        assert!(NoteSigner::parse_private(&String::from_utf8_lossy(&m)).is_err(), "byte {i} +1 was accepted");
    }
}

#[test]
fn signing_go_text_with_go_key_gives_go_signed_note_byte_for_byte() {
    let s = NoteSigner::parse_private(PETER_SKEY).unwrap();
    assert_eq!(sign(TEXT, &[&s]).unwrap(), peter_note());
}

#[test]
fn c2sp_spec_example_note_verifies_with_its_verifier_key() {
    // c2sp.org/signed-note, "Verifier keys", "Example".
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let opened = open(note.as_bytes(), &verifiers(&[vkey])).unwrap();
    assert_eq!(opened.text, "This is an example message.\n");
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(NoteVerifier::parse(vkey).unwrap().to_text(), vkey);
}

#[test]
fn unknown_keys_are_ignored_and_known_keys_verified_as_in_go_open() {
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let one = open(both.as_bytes(), &verifiers(&[PETER_VKEY])).unwrap();
    assert_eq!(one.text, TEXT);
    assert_eq!(one.verified.len(), 1);
    assert_eq!((one.verified[0].name.as_str(), one.verified[0].key_id), ("PeterNeumann", 0xc74f_20a3));
    assert_eq!(one.verified[0].timestamp, None);
    assert_eq!(one.unverified.len(), 1);
    assert_eq!((one.unverified[0].name.as_str(), one.unverified[0].key_id), ("EnochRoot", 0xaf0c_fe78));

    let two = open(both.as_bytes(), &verifiers(&[PETER_VKEY, ENOCH_VKEY])).unwrap();
    assert_eq!(two.verified.len(), 2);
    assert!(two.unverified.is_empty());

    assert_eq!(open(both.as_bytes(), &verifiers(&[])), Err(NoteError::NoKnownSignature));
}

#[test]
fn a_known_key_with_a_bad_signature_refuses_the_note_even_beside_a_good_one() {
    // note_test.go's "Invalid signature": "ABCD" spliced into the signature at byte 60.
    let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let refused = Err(NoteError::InvalidSignature { name: "PeterNeumann".into(), key_id: 0xc74f_20a3 });
    assert_eq!(open(format!("{TEXT}\n{bad}").as_bytes(), &verifiers(&[PETER_VKEY])), refused);
    let beside = format!("{TEXT}\n{ENOCH_SIG}{bad}");
    assert_eq!(open(beside.as_bytes(), &verifiers(&[PETER_VKEY, ENOCH_VKEY])), refused);
}

#[test]
fn a_key_sharing_only_the_name_or_only_the_id_is_ignored_not_refused() {
    // Same name, another key (so another id): the Go signature is from an unknown key.
    let other = NoteSigner::from_seed("PeterNeumann", SignatureType::Ed25519, &[7; 32]).unwrap();
    let same_name = NoteVerifiers::new([other.verifier()]).unwrap();
    assert_eq!(open(peter_note().as_bytes(), &same_name), Err(NoteError::NoKnownSignature));
    // Same id, another name: the line's id matches but the name does not.
    let renamed = peter_note().replace("PeterNeumann", "CarmenSandiego");
    let opened = open(renamed.as_bytes(), &verifiers(&[PETER_VKEY]));
    assert_eq!(opened, Err(NoteError::NoKnownSignature));
    // With a good signature beside them, both are kept as unverified.
    let mixed = format!(
        "{TEXT}\n\u{2014} CarmenSandiego x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n{PETER_SIG}"
    );
    let opened = open(mixed.as_bytes(), &verifiers(&[PETER_VKEY])).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.unverified[0].name, "CarmenSandiego");
}

#[test]
fn every_single_byte_change_of_a_signed_note_fails_to_open() {
    let note = peter_note().into_bytes();
    let known = verifiers(&[PETER_VKEY]);
    assert!(open(&note, &known).is_ok());
    for i in 0..note.len() {
        for value in 0..=u8::MAX {
            if value == note[i] {
                continue;
            }
            let mut m = note.clone();
            m[i] = value;
            assert!(open(&m, &known).is_err(), "byte {i} set to {value:#04x} still opens");
        }
    }
    for len in 0..note.len() {
        assert!(open(&note[..len], &known).is_err(), "the first {len} bytes still open");
    }
}

#[test]
fn malformed_notes_from_go_open_are_refused() {
    let known = verifiers(&[PETER_VKEY]);
    let bad = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in &bad {
        assert!(matches!(open(msg.as_bytes(), &known), Err(NoteError::Malformed(_))), "{msg:?}");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(peter_note().as_bytes());
    assert_eq!(open(&invalid_utf8, &known), Err(NoteError::Malformed("the note is not valid UTF-8")));
}

#[test]
fn signature_count_and_note_size_are_bounded_and_sixteen_signatures_open() {
    let known = verifiers(&[PETER_VKEY]);
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
    assert_eq!(open(many.as_bytes(), &known), Err(NoteError::TooManySignatures(MAX_SIGNATURES)));
    let sixteen = format!("{TEXT}\n{}", PETER_SIG.repeat(16));
    assert_eq!(open(sixteen.as_bytes(), &known).unwrap().verified.len(), 1);
    let most = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
    assert_eq!(open(most.as_bytes(), &known).unwrap().verified.len(), 1);

    // A signed note of exactly the limit opens; one byte more is refused before parsing.
    let s = NoteSigner::parse_private(PETER_SKEY).unwrap();
    let overhead = sign("\n", &[&s]).unwrap().len() - 1;
    let text = format!("{}\n", "a".repeat(MAX_NOTE_BYTES - overhead - 1));
    let largest = sign(&text, &[&s]).unwrap();
    assert_eq!(largest.len(), MAX_NOTE_BYTES);
    assert!(open(largest.as_bytes(), &known).is_ok());
    let text = format!("{}\n", "a".repeat(MAX_NOTE_BYTES - overhead));
    let too_large = NoteError::TooLarge { size: MAX_NOTE_BYTES + 1, max: MAX_NOTE_BYTES };
    assert_eq!(sign(&text, &[&s]), Err(too_large.clone()));
    let mut bytes = largest.into_bytes();
    bytes.insert(0, b'a');
    assert_eq!(open(&bytes, &known), Err(too_large));
}

#[test]
fn generated_keys_round_trip_through_their_texts_and_sign_together() {
    let a = NoteSigner::generate("pip.example/a", SignatureType::Ed25519).unwrap();
    let b = NoteSigner::generate("pip.example/b", SignatureType::Ed25519).unwrap();
    let a2 = NoteSigner::parse_private(&a.to_private_text()).unwrap();
    assert_eq!(a2.verifier(), a.verifier());
    assert_eq!(NoteVerifier::parse(&b.verifier().to_text()).unwrap(), b.verifier());
    let text = "multi\n\nline text with an empty line\n";
    let note = sign(text, &[&a, &b]).unwrap();
    let opened = open(note.as_bytes(), &NoteVerifiers::new([a.verifier(), b.verifier()]).unwrap()).unwrap();
    assert_eq!(opened.text, text);
    assert_eq!(opened.verified.len(), 2);
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    assert_eq!(parsed.to_text().unwrap(), note);
}

#[test]
fn invalid_key_names_are_refused_everywhere() {
    for name in ["", "a+b", "a b", "a\tb", "a\nb", "a\u{a0}b", "a\u{2003}b", "a\u{3000}b", "a\x01b"] {
        assert_eq!(
            NoteSigner::from_seed(name, SignatureType::Ed25519, &[1; 32]).map(|s| s.key_id()),
            Err(NoteError::KeyName(name.to_owned()))
        );
        let public = NoteSigner::from_seed("ok", SignatureType::Ed25519, &[1; 32]).unwrap().verifier().public_key();
        assert_eq!(NoteVerifier::new(name, SignatureType::Ed25519, public), Err(NoteError::KeyName(name.to_owned())));
    }
}

#[test]
fn note_texts_that_cannot_round_trip_are_not_signed() {
    let s = NoteSigner::parse_private(PETER_SKEY).unwrap();
    assert!(matches!(sign("no final newline", &[&s]), Err(NoteError::Malformed(_))));
    assert!(matches!(sign("tab\there\n", &[&s]), Err(NoteError::Malformed(_))));
    assert!(matches!(sign(TEXT, &[]), Err(NoteError::Malformed(_))));
}

/// Two keys whose ids collide under one name: seeds SHA-256(`seed41338`) and
/// SHA-256(`seed53209`) both give key id `5c6bdebf` for `collide.example` (found by a
/// birthday search over seeds `seed<i>`, done once offline).
fn colliding_signers() -> (NoteSigner, NoteSigner) {
    use sha2::{Digest, Sha256};
    let signer = |label: &[u8]| {
        let seed: [u8; 32] = Sha256::digest(label).into();
        NoteSigner::from_seed("collide.example", SignatureType::Ed25519, &seed).unwrap()
    };
    (signer(b"seed41338"), signer(b"seed53209"))
}

#[test]
fn two_different_keys_with_one_name_and_id_are_refused_as_ambiguous() {
    let (a, b) = colliding_signers();
    assert_eq!((a.key_id(), b.key_id()), (0x5c6b_debf, 0x5c6b_debf));
    assert_ne!(a.verifier(), b.verifier());
    let ambiguous = NoteVerifiers::new([a.verifier(), b.verifier()]);
    assert_eq!(ambiguous.map(|_| ()), Err(NoteError::AmbiguousVerifier { name: "collide.example".into(), key_id: 0x5c6b_debf }));
    // Identical duplicates are one key.
    assert!(NoteVerifiers::new([a.verifier(), a.verifier()]).is_ok());
}

#[test]
fn a_signature_whose_name_and_id_match_a_known_key_must_verify_with_it() {
    // The colliding key's signature is not ignored: name and id match, so it is checked
    // against the known key, fails, and the note is refused (signed-note, "Signatures").
    let (a, b) = colliding_signers();
    let note = sign("forged by a colliding key\n", &[&b]).unwrap();
    assert_eq!(
        open(note.as_bytes(), &NoteVerifiers::new([a.verifier()]).unwrap()),
        Err(NoteError::InvalidSignature { name: "collide.example".into(), key_id: 0x5c6b_debf })
    );
}

#[test]
fn a_signer_debug_shows_name_and_id_but_never_the_key() {
    let s = NoteSigner::parse_private(PETER_SKEY).unwrap();
    let shown = format!("{s:?}");
    assert!(shown.contains("PeterNeumann") && shown.contains("c74f20a3"), "{shown}");
    assert!(!shown.contains("AYEKFALV") && !shown.contains("PRIVATE"), "{shown}");
}

proptest::proptest! {
    #[test]
    fn open_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = open(&bytes, &verifiers(&[PETER_VKEY]));
        let _ = SignedNote::parse(&bytes);
    }
}
