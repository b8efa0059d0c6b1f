//! Tests of checkpoint texts and `cosignature/v1` cosignatures, against the examples of
//! c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::super::*;

// c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature, the example checkpoint.
const SOFA: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
// c2sp.org/tlog-cosignature, the example's witness line (no public key is published).
const SOFA_COSIGNATURE: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
const SOFA_LOG_SIGNATURE: &str =
    "\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

fn log_signer() -> NoteSigner {
    NoteSigner::from_seed("pip.example/ledger", SignatureType::Ed25519, &[3; 32]).unwrap()
}

fn witness() -> NoteSigner {
    NoteSigner::from_seed("witness.example/w1", SignatureType::CosignatureV1, &[4; 32]).unwrap()
}

fn checkpoint(size: u64, fill: u8) -> Checkpoint {
    Checkpoint { origin: "pip.example/ledger".into(), size, root: [fill; 32], extensions: vec![] }
}

#[test]
fn spec_example_checkpoint_parses_and_formats_back_unchanged() {
    let c = Checkpoint::parse(SOFA).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20_852_163);
    assert_eq!(&c.root[..4], &[0x0a, 0xc5, 0x18, 0x6a]);
    assert!(c.extensions.is_empty());
    assert_eq!(c.to_text().unwrap(), SOFA);
}

#[test]
fn spec_example_signature_lines_parse_with_their_key_ids_and_timestamp() {
    let note = format!("{SOFA}\n{SOFA_LOG_SIGNATURE}{SOFA_COSIGNATURE}");
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    assert_eq!(parsed.text, SOFA);
    assert_eq!(parsed.signatures[0].key_id, 0x033d_e0ae);
    assert_eq!(parsed.signatures[0].bytes.len(), 64);
    assert_eq!(parsed.signatures[1].key_id, 0x8d66_cf3f);
    // The timestamp is the one of the spec's example message, `time 1679315147`.
    assert_eq!(cosignature::timestamp(&parsed.signatures[1].bytes), Some(1_679_315_147));
    assert_eq!(parsed.to_text().unwrap(), note);
    // With no key of either, the note is refused and nothing is trusted.
    let none = NoteVerifiers::default();
    assert_eq!(Checkpoint::open(note.as_bytes(), &none).map(|_| ()), Err(NoteError::NoKnownSignature));
}

#[test]
fn cosignature_message_is_header_time_line_and_body() {
    assert_eq!(cosignature::message(SOFA, 1_679_315_147), format!("cosignature/v1\ntime 1679315147\n{SOFA}"));
}

#[test]
fn non_canonical_checkpoints_are_refused() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases = [
        ("example.com/a\n5\n".to_owned() + root, "missing final newline"),
        (format!("\n5\n{root}\n"), "empty origin"),
        (format!("example.com/a\n05\n{root}\n"), "leading zero"),
        (format!("example.com/a\n00\n{root}\n"), "zero with a leading zero"),
        (format!("example.com/a\n+5\n{root}\n"), "plus sign"),
        (format!("example.com/a\n-5\n{root}\n"), "minus sign"),
        (format!("example.com/a\n 5\n{root}\n"), "leading space"),
        (format!("example.com/a\n5 \n{root}\n"), "trailing space"),
        (format!("example.com/a\n\n{root}\n"), "empty size"),
        (format!("example.com/a\n18446744073709551616\n{root}\n"), "size above u64"),
        (format!("example.com/a\n0x5\n{root}\n"), "hex size"),
        ("example.com/a\n5\n".to_owned() + "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "root without padding"),
        ("example.com/a\n5\n".to_owned() + "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "root with non-zero trailing bits"),
        ("example.com/a\n5\n".to_owned() + "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", "root of 31 bytes"),
        ("example.com/a\n5\n".to_owned() + "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n", "root of 33 bytes"),
        ("example.com/a\n5\n".to_owned() + "CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", "url-safe base64 root"),
        ("example.com/a\n5\n".to_owned() + "\n", "empty root"),
        ("example.com/a\n5\n".to_owned(), "no root line"),
        ("example.com/a\n".to_owned(), "no size line"),
        (format!("example.com/a\n5\n{root}\n\n"), "empty extension line"),
        (format!("example.com/a\n5\n{root}\next\n\nmore\n"), "empty line between extensions"),
        (format!("example.com/a\n5\n{root}\r\n"), "carriage return"),
        (format!("example\tcom\n5\n{root}\n"), "control character in origin"),
        (String::new(), "empty text"),
    ];
    for (text, why) in &cases {
        assert!(matches!(Checkpoint::parse(text), Err(NoteError::Checkpoint(_))), "{why}: {text:?} accepted");
    }
}

#[test]
fn checkpoints_with_zero_size_max_size_and_extensions_round_trip() {
    for c in [
        checkpoint(0, 0),
        checkpoint(u64::MAX, 0xff),
        Checkpoint { extensions: vec!["ext one".into(), "two".into()], ..checkpoint(42, 7) },
        Checkpoint { origin: "origin with spaces+plus".into(), ..checkpoint(1, 1) },
    ] {
        assert_eq!(Checkpoint::parse(&c.to_text().unwrap()).unwrap(), c);
    }
}

#[test]
fn checkpoints_that_would_not_read_back_are_not_written() {
    for bad in [
        Checkpoint { origin: String::new(), ..checkpoint(1, 1) },
        Checkpoint { origin: "two\nlines".into(), ..checkpoint(1, 1) },
        Checkpoint { extensions: vec![String::new()], ..checkpoint(1, 1) },
        Checkpoint { extensions: vec!["a\nb".into()], ..checkpoint(1, 1) },
    ] {
        assert!(matches!(bad.to_text(), Err(NoteError::Checkpoint(_))), "{bad:?}");
    }
}

#[test]
fn signed_and_cosigned_checkpoint_opens_with_log_and_witness_keys() {
    let c = checkpoint(1000, 9);
    let body = c.to_text().unwrap();
    let log = log_signer();
    let w = witness();
    let cosig = c.cosign(&w, 1_700_000_000).unwrap();
    assert_eq!(cosig.bytes.len(), cosignature::TIMESTAMPED_LEN);
    let note = SignedNote { text: body.clone(), signatures: vec![note_signature(&log, &body).unwrap(), cosig] };
    let text = note.to_text().unwrap();

    let both = NoteVerifiers::new([log.verifier(), w.verifier()]).unwrap();
    let (opened, verified) = Checkpoint::open(text.as_bytes(), &both).unwrap();
    assert_eq!(opened, c);
    let stamps: Vec<_> = verified.verified.iter().map(|v| (v.signature_type, v.timestamp)).collect();
    assert_eq!(stamps, [(SignatureType::Ed25519, None), (SignatureType::CosignatureV1, Some(1_700_000_000))]);

    // The witness key alone vouches for it; the log key alone leaves the cosignature unchecked.
    let only_witness = NoteVerifiers::new([w.verifier()]).unwrap();
    assert_eq!(Checkpoint::open(text.as_bytes(), &only_witness).unwrap().1.verified.len(), 1);
    let only_log = NoteVerifiers::new([log.verifier()]).unwrap();
    assert_eq!(Checkpoint::open(text.as_bytes(), &only_log).unwrap().1.unverified.len(), 1);
}

#[test]
fn a_cosignature_moved_to_another_root_or_time_is_refused() {
    let w = witness();
    let known = NoteVerifiers::new([w.verifier()]).unwrap();
    let body = checkpoint(1000, 9).to_text().unwrap();
    let other = checkpoint(1000, 10).to_text().unwrap();
    let cosig = checkpoint(1000, 9).cosign(&w, 1_700_000_000).unwrap();
    let refused = Err(NoteError::InvalidSignature { name: w.name().into(), key_id: w.key_id() });

    let moved = SignedNote { text: other, signatures: vec![cosig.clone()] }.to_text().unwrap();
    assert_eq!(open(moved.as_bytes(), &known), refused);

    let mut retimed = cosig;
    retimed.bytes[7] ^= 1;
    let retimed = SignedNote { text: body, signatures: vec![retimed] }.to_text().unwrap();
    assert_eq!(open(retimed.as_bytes(), &known), refused);
}

#[test]
fn cosigner_key_ids_use_type_0x04_so_the_same_key_as_note_signer_is_another_key() {
    let seed = [4; 32];
    let as_note = NoteSigner::from_seed("witness.example/w1", SignatureType::Ed25519, &seed).unwrap();
    let w = witness();
    assert_eq!(as_note.verifier().public_key(), w.verifier().public_key());
    assert_ne!(as_note.key_id(), w.key_id());
    assert!(w.verifier().to_text().contains("+B"), "the vkey material starts with 0x04, base64 `B`");
    assert_eq!(NoteVerifier::parse(&w.verifier().to_text()).unwrap(), w.verifier());
    assert_eq!(NoteSigner::parse_private(&w.to_private_text()).unwrap().verifier(), w.verifier());

    // A cosignature read with the 0x01 key of the same name and public key: unknown id, ignored.
    let c = checkpoint(5, 5);
    let cosigned = SignedNote { text: c.to_text().unwrap(), signatures: vec![c.cosign(&w, 1).unwrap()] };
    let known = NoteVerifiers::new([as_note.verifier()]).unwrap();
    assert_eq!(open(cosigned.to_text().unwrap().as_bytes(), &known), Err(NoteError::NoKnownSignature));
}

#[test]
fn signers_refuse_the_other_signature_type_and_bad_timestamps() {
    let c = checkpoint(5, 5);
    let body = c.to_text().unwrap();
    assert_eq!(sign(&body, &[&witness()]), Err(NoteError::WrongSignatureType("witness.example/w1".into())));
    let not_a_cosigner = Err(NoteError::WrongSignatureType("pip.example/ledger".into()));
    assert_eq!(c.cosign(&log_signer(), 1).map(|_| ()), not_a_cosigner);
    let too_late = cosignature::MAX_TIMESTAMP + 1;
    assert_eq!(c.cosign(&witness(), too_late).map(|_| ()), Err(NoteError::Timestamp(too_late)));
    let latest = c.cosign(&witness(), cosignature::MAX_TIMESTAMP).unwrap();
    assert_eq!(cosignature::timestamp(&latest.bytes), Some(cosignature::MAX_TIMESTAMP));
    let unwritable = Checkpoint { origin: String::new(), ..c };
    assert!(matches!(unwritable.cosign(&witness(), 1), Err(NoteError::Checkpoint(_))));
}

#[test]
fn a_checkpoint_signed_with_another_key_does_not_open() {
    let c = checkpoint(7, 7);
    let impostor = NoteSigner::from_seed("pip.example/ledger", SignatureType::Ed25519, &[5; 32]).unwrap();
    let note = c.sign(&[&impostor]).unwrap();
    let known = NoteVerifiers::new([log_signer().verifier()]).unwrap();
    assert_eq!(Checkpoint::open(note.as_bytes(), &known).map(|_| ()), Err(NoteError::NoKnownSignature));
    assert_eq!(Checkpoint::open(c.sign(&[&log_signer()]).unwrap().as_bytes(), &known).unwrap().0, c);
}

#[test]
fn a_signed_note_that_is_not_a_checkpoint_is_refused_by_checkpoint_open() {
    let log = log_signer();
    let note = sign("pip.example/ledger\n007\nAAAA\n", &[&log]).unwrap();
    let known = NoteVerifiers::new([log.verifier()]).unwrap();
    assert!(open(note.as_bytes(), &known).is_ok());
    assert!(matches!(Checkpoint::open(note.as_bytes(), &known), Err(NoteError::Checkpoint(_))));
}
