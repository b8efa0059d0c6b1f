//! Cross-checks with an implementation nobody here wrote: the `signed_note` crate
//! (Cloudflare azul) opens notes pip signs, and pip opens notes it signs, with keys moved
//! between the two only as text.
#![allow(clippy::unwrap_used)]

use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};

use super::super::*;

#[test]
fn a_note_pip_signs_verifies_with_signed_note() {
    let ours = NoteSigner::generate("pip.example/ledger", SignatureType::Ed25519).unwrap();
    let c = Checkpoint { origin: "pip.example/ledger".into(), size: 3, root: [1; 32], extensions: vec![] };
    let signed = c.sign(&[&ours]).unwrap();
    let theirs = StandardVerifier::new(&ours.verifier().to_text()).unwrap();
    let note = Note::from_bytes(signed.as_bytes()).unwrap();
    let (verified, unverified) = note.verify(&VerifierList::new(vec![Box::new(theirs)])).unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 0));
    assert_eq!(note.text(), c.to_text().unwrap().as_bytes());
    // And a byte changed in the text fails there too.
    let tampered = signed.replacen('3', "4", 1);
    let theirs = StandardVerifier::new(&ours.verifier().to_text()).unwrap();
    let note = Note::from_bytes(tampered.as_bytes()).unwrap();
    assert!(note.verify(&VerifierList::new(vec![Box::new(theirs)])).is_err());
}

#[test]
fn a_note_signed_note_signs_with_our_private_key_text_opens_here() {
    let ours = NoteSigner::generate("pip.example/ledger", SignatureType::Ed25519).unwrap();
    let theirs = StandardSigner::new(&ours.to_private_text()).unwrap();
    let mut note = Note::new(b"signed over there\n", &[]).unwrap();
    note.add_sigs(&[&theirs]).unwrap();
    let bytes = note.to_bytes();
    let opened = open(&bytes, &NoteVerifiers::new([ours.verifier()]).unwrap()).unwrap();
    assert_eq!(opened.text, "signed over there\n");
    // Both sign deterministically (RFC 8032), so the notes are byte-identical.
    assert_eq!(sign("signed over there\n", &[&ours]).unwrap().into_bytes(), bytes);
}
