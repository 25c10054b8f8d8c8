//! Tracking-event payloads as the SQLite store keeps them: packed against a dictionary shared by
//! the events written in one batch (migration 0006).
//!
//! Why: the events of one chunk are near copies of one another (same keys, problem id, task id
//! and input ids; only the learner's answers, scores and name differ), and a rescore event keeps
//! the whole previous state, so the events were most of the bytes a task wrote, each written twice
//! by WAL mode. LZ4 against the batch's first packable payload, kept once in
//! `event_dictionaries`, turns a 1.7 KB rescore payload into about 150 bytes, for one to two
//! microseconds of packing each, done before the write lock is taken.
//!
//! Packed form: the payload's length in bytes as a little-endian `u32`, then an LZ4 block
//! compressed with the dictionary's text as its preceding window.

use lz4_flex::block::{
    compress_into_with_dict, decompress_into_with_dict, get_maximum_output_size,
};

/// Payloads shorter than this are stored as text: LZ4's framing would eat most of the saving.
const MIN_PACKED_LEN: usize = 128;
/// LZ4 looks back at most 64 KiB, and a dictionary is hashed again for every payload packed
/// against it: a longer first payload is not used as the batch's dictionary.
const MAX_DICTIONARY_LEN: usize = 16 * 1024;
/// The largest length a packed payload may declare; a header beyond it is corrupt (checked before
/// anything is allocated). SQLite's own default limit for a value is 1,000,000,000 bytes.
const MAX_UNPACKED_LEN: usize = 1_000_000_000;

/// The dictionary for a batch of payloads: the first one of a suitable length, when at least two
/// payloads could be packed (for a lone event the dictionary would only double its bytes).
fn choose_dictionary<'a>(payloads: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let mut packable = payloads.filter(|p| p.len() >= MIN_PACKED_LEN);
    let dictionary = packable.clone().find(|p| p.len() <= MAX_DICTIONARY_LEN)?;
    packable.nth(1).map(|_| dictionary)
}

/// Appends the packed form of `payload` to `out` and says whether it did; leaves `out` as it
/// was when the payload is to be stored as text: too short, too long for the header, or not
/// made smaller by packing.
fn pack_into(out: &mut Vec<u8>, payload: &str, dictionary: &str) -> bool {
    let bytes = payload.as_bytes();
    let Ok(length) = u32::try_from(bytes.len()) else {
        return false;
    };
    if bytes.len() < MIN_PACKED_LEN || bytes.len() > MAX_UNPACKED_LEN {
        return false;
    }
    let start = out.len();
    let block = start + 4;
    out.extend_from_slice(&length.to_le_bytes());
    out.resize(block + get_maximum_output_size(bytes.len()), 0);
    match compress_into_with_dict(bytes, &mut out[block..], dictionary.as_bytes()) {
        Ok(written) if 4 + written < bytes.len() => {
            out.truncate(block + written);
            true
        }
        _ => {
            out.truncate(start);
            false
        }
    }
}

/// A batch's payloads in the form they are stored, packed before the write lock is taken (so
/// that packing one chunk overlaps another chunk's commit instead of lengthening it).
pub(super) struct PackedBatch<'a> {
    dictionary: Option<&'a str>,
    /// Per payload, its packed bytes in `bytes`, or `None` to store it as text.
    packed: Vec<Option<std::ops::Range<usize>>>,
    bytes: Vec<u8>,
}

impl<'a> PackedBatch<'a> {
    /// Packs `payloads` against the dictionary [`choose_dictionary`] picks for them.
    pub(super) fn pack(payloads: impl ExactSizeIterator<Item = &'a str> + Clone) -> Self {
        let dictionary = choose_dictionary(payloads.clone());
        let Some(content) = dictionary else {
            return PackedBatch {
                dictionary,
                packed: vec![None; payloads.len()],
                bytes: Vec::new(),
            };
        };
        let mut bytes = Vec::new();
        let packed = payloads
            .map(|payload| {
                let start = bytes.len();
                pack_into(&mut bytes, payload, content).then_some(start..bytes.len())
            })
            .collect();
        PackedBatch {
            dictionary,
            packed,
            bytes,
        }
    }

    /// The dictionary to store first, when any payload was packed against it.
    pub(super) fn dictionary(&self) -> Option<&'a str> {
        self.dictionary
            .filter(|_| self.packed.iter().any(Option::is_some))
    }

    /// The packed form of the `index`-th payload, or `None` when it is stored as text.
    pub(super) fn packed(&self, index: usize) -> Option<&[u8]> {
        self.packed
            .get(index)?
            .as_ref()
            .map(|range| &self.bytes[range.clone()])
    }
}

/// The payload text that `packed` holds, packed against `dictionary`; what is wrong otherwise.
pub(super) fn unpack(packed: &[u8], dictionary: &str) -> Result<String, String> {
    let (header, block) = packed
        .split_first_chunk::<4>()
        .ok_or_else(|| format!("a packed payload of {} bytes has no length", packed.len()))?;
    let declared = u32::from_le_bytes(*header) as usize;
    if declared > MAX_UNPACKED_LEN {
        return Err(format!(
            "a packed payload declares {declared} bytes, more than any payload"
        ));
    }
    // An LZ4 block grows at most 255 bytes per byte (a match length continues in bytes of 255),
    // so a damaged length cannot make this allocate far more than the row could hold.
    if declared > block.len().saturating_mul(256).saturating_add(64) {
        return Err(format!(
            "a packed payload declares {declared} bytes, more than its {} packed bytes can hold",
            block.len()
        ));
    }
    let mut text = vec![0; declared];
    let written = decompress_into_with_dict(block, &mut text, dictionary.as_bytes())
        .map_err(|e| format!("a packed payload does not unpack: {e}"))?;
    if written != declared {
        return Err(format!(
            "a packed payload declares {declared} bytes but holds {written}"
        ));
    }
    String::from_utf8(text).map_err(|e| format!("a packed payload is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rescore_payload(student: &str, correctness: &str, score: u32) -> String {
        format!(
            r#"{{"state": {{"attempts": 2, "seed": 1, "done": true, "student_answers": {{"p_2_1": "3.14"}}, "correct_map": {{"p_2_1": {{"correctness": "{correctness}", "npoints": null, "msg": "", "hint": ""}}}}, "score": {{"raw_earned": {score}, "raw_possible": 1}}}}, "problem_id": "block-v1:Org+C1+2026+type@problem+block@p", "orig_score": {score}, "orig_total": 1, "student": "{student}", "task_id": "01a21be8-03e0-7363-842d-5d90bf4db270"}}"#
        )
    }

    /// The packed form of `payload` on its own, or `None` when it stays text.
    fn pack(payload: &str, dictionary: &str) -> Option<Vec<u8>> {
        let mut out = b"kept".to_vec();
        let packed = pack_into(&mut out, payload, dictionary);
        assert!(out.starts_with(b"kept"), "what was there stays");
        packed.then(|| out.split_off(4)).or_else(|| {
            assert_eq!(out, b"kept", "nothing is appended for a text payload");
            None
        })
    }

    #[test]
    fn payloads_round_trip_and_shrink_against_a_sibling() {
        let dictionary = rescore_payload("ann", "correct", 1);
        for (student, correctness, score) in [
            ("ann", "correct", 1),
            ("bob", "incorrect", 0),
            ("carl_é", "correct", 1),
        ] {
            let payload = rescore_payload(student, correctness, score);
            let packed = pack(&payload, &dictionary).expect("a sibling packs");
            assert!(
                packed.len() * 4 < payload.len(),
                "{} bytes packed into {}",
                payload.len(),
                packed.len()
            );
            assert_eq!(unpack(&packed, &dictionary).unwrap(), payload);
        }
        // The most compressible payload there is (one long run) is not refused by the size bound.
        let run = format!(r#"{{"state": "{}"}}"#, "x".repeat(1 << 20));
        let packed = pack(&run, &dictionary).expect("a run packs");
        assert!(packed.len() < run.len() / 200);
        assert_eq!(unpack(&packed, &dictionary).unwrap(), run);
        // Unlike text still packs losslessly, and an unrelated dictionary still unpacks it.
        let other: String = (0..300)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        if let Some(packed) = pack(&other, &dictionary) {
            assert_eq!(unpack(&packed, &dictionary).unwrap(), other);
        }
    }

    #[test]
    fn short_payloads_and_ones_that_do_not_shrink_stay_text() {
        let dictionary = rescore_payload("ann", "correct", 1);
        assert_eq!(pack(r#"{"student": "ann"}"#, &dictionary), None);
        // Bytes with no repeats (a pseudo-random walk over the alphabet) cannot shrink.
        let mut x: u32 = 12345;
        let noise: String = (0..400)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                char::from(b'!' + ((x >> 16) % 90) as u8)
            })
            .collect();
        assert_eq!(pack(&noise, &dictionary), None);
    }

    #[test]
    fn the_dictionary_is_the_first_packable_payload_of_two_or_more() {
        let short = "{}";
        let long = "x".repeat(MAX_DICTIONARY_LEN + 1);
        let a = rescore_payload("ann", "correct", 1);
        let b = rescore_payload("bob", "correct", 1);
        assert_eq!(
            choose_dictionary([short, long.as_str(), a.as_str(), b.as_str()].into_iter()),
            Some(a.as_str())
        );
        // A lone packable payload is not worth a dictionary; a too-long one counts as packable.
        assert_eq!(choose_dictionary([short, a.as_str()].into_iter()), None);
        assert_eq!(
            choose_dictionary([a.as_str(), long.as_str()].into_iter()),
            Some(a.as_str())
        );
        assert_eq!(
            choose_dictionary([long.as_str(), long.as_str()].into_iter()),
            None
        );
    }

    #[test]
    fn a_batch_keeps_each_payload_in_place_packed_or_as_text() {
        let a = rescore_payload("ann", "correct", 1);
        let b = rescore_payload("bob", "incorrect", 0);
        let payloads = ["{}", a.as_str(), "[]", b.as_str()];
        let batch = PackedBatch::pack(payloads.iter().copied());
        assert_eq!(batch.dictionary(), Some(a.as_str()));
        assert_eq!(batch.packed(0), None);
        assert_eq!(batch.packed(2), None);
        assert_eq!(batch.packed(4), None, "past the end");
        for i in [1, 3] {
            let packed = batch.packed(i).expect("packed");
            assert_eq!(unpack(packed, &a).unwrap(), payloads[i]);
        }
        // Nothing worth packing: no dictionary to store.
        let lone = PackedBatch::pack([a.as_str(), "{}"].into_iter());
        assert_eq!((lone.dictionary(), lone.packed(0)), (None, None));
    }

    #[test]
    fn damaged_packed_payloads_are_errors_not_panics() {
        let dictionary = rescore_payload("ann", "correct", 1);
        let payload = rescore_payload("bob", "incorrect", 0);
        let packed = pack(&payload, &dictionary).unwrap();

        assert!(
            unpack(&packed[..3], &dictionary)
                .unwrap_err()
                .contains("no length")
        );
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            unpack(&huge, &dictionary)
                .unwrap_err()
                .contains("more than any payload")
        );
        let mut inflated = packed.clone();
        inflated[..4].copy_from_slice(&(packed.len() as u32 * 300).to_le_bytes());
        assert!(
            unpack(&inflated, &dictionary)
                .unwrap_err()
                .contains("packed bytes can hold")
        );
        let mut longer = packed.clone();
        longer[..4].copy_from_slice(&(payload.len() as u32 + 10).to_le_bytes());
        assert!(unpack(&longer, &dictionary).unwrap_err().contains("holds"));
        let mut shorter = packed.clone();
        shorter[..4].copy_from_slice(&(payload.len() as u32 - 10).to_le_bytes());
        assert!(unpack(&shorter, &dictionary).is_err());
        assert!(unpack(&packed[..packed.len() - 5], &dictionary).is_err());
        // Every single-byte change is either caught or unpacks to some text: never a panic.
        for i in 4..packed.len() {
            let mut flipped = packed.clone();
            flipped[i] ^= 0x5a;
            let _ = unpack(&flipped, &dictionary);
        }
    }
}
