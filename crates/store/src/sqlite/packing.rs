//! LZ4 blocks with a length header: how the SQLite store packs the bytes of its audit batches
//! (task outcomes and tracking events, see `audit_batch`) and, before those, the payloads of
//! single event rows against a shared dictionary (migration 0006; such rows are still read).
//!
//! Packed form: the unpacked length in bytes as a little-endian `u32`, then an LZ4 block
//! compressed with the dictionary (possibly empty) as its preceding window. `lz4_flex` runs on
//! its safe code paths, and [`unpack`] checks the declared length before allocating, so damaged
//! bytes are an error, never a panic or a huge allocation.

use lz4_flex::block::{
    compress_into_with_dict, decompress_into_with_dict, get_maximum_output_size,
};

/// Inputs shorter than this are not packed: LZ4's framing would eat most of the saving.
const MIN_PACKED_LEN: usize = 128;
/// The largest length packed bytes may declare; a header beyond it is corrupt (checked before
/// anything is allocated). SQLite's own default limit for a value is 1,000,000,000 bytes.
const MAX_UNPACKED_LEN: usize = 1_000_000_000;

/// Packs `bytes` into the start of `area` and returns the packed form (`area`'s first bytes),
/// or `None` when they are to be stored as they are: too short, too long for the header, or not
/// made smaller by packing.
///
/// `area` is a work buffer kept from call to call. LZ4 writes into an initialized slice of the
/// worst-case size, and `area` only grows, so each of its bytes is zeroed once, by the growth:
/// zeroing the worst case again for every batch was 2.4% of a delete worker's instructions
/// (callgrind, 100k learners).
pub(super) fn pack_in<'a>(
    area: &'a mut Vec<u8>,
    bytes: &[u8],
    dictionary: &[u8],
) -> Option<&'a [u8]> {
    let length = u32::try_from(bytes.len()).ok()?;
    if bytes.len() < MIN_PACKED_LEN || bytes.len() > MAX_UNPACKED_LEN {
        return None;
    }
    let needed = 4 + get_maximum_output_size(bytes.len());
    if area.len() < needed {
        area.resize(needed, 0);
    }
    area[..4].copy_from_slice(&length.to_le_bytes());
    match compress_into_with_dict(bytes, &mut area[4..needed], dictionary) {
        Ok(written) if 4 + written < bytes.len() => Some(&area[..4 + written]),
        _ => None,
    }
}

/// The bytes that `packed` holds, packed against `dictionary`; what is wrong otherwise.
pub(super) fn unpack(packed: &[u8], dictionary: &[u8]) -> Result<Vec<u8>, String> {
    let (header, block) = packed
        .split_first_chunk::<4>()
        .ok_or_else(|| format!("{} packed bytes have no length", packed.len()))?;
    let declared = u32::from_le_bytes(*header) as usize;
    if declared > MAX_UNPACKED_LEN {
        return Err(format!(
            "packed bytes declare {declared} bytes, more than any value"
        ));
    }
    // An LZ4 block grows at most 255 bytes per byte (a match length continues in bytes of 255),
    // so a damaged length cannot make this allocate far more than the row could hold.
    if declared > block.len().saturating_mul(256).saturating_add(64) {
        return Err(format!(
            "packed bytes declare {declared} bytes, more than their {} packed bytes can hold",
            block.len()
        ));
    }
    let mut unpacked = vec![0; declared];
    let written = decompress_into_with_dict(block, &mut unpacked, dictionary)
        .map_err(|e| format!("packed bytes do not unpack: {e}"))?;
    if written != declared {
        return Err(format!(
            "packed bytes declare {declared} bytes but hold {written}"
        ));
    }
    Ok(unpacked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rescore_payload(student: &str, correctness: &str, score: u32) -> String {
        format!(
            r#"{{"state": {{"attempts": 2, "seed": 1, "done": true, "student_answers": {{"p_2_1": "3.14"}}, "correct_map": {{"p_2_1": {{"correctness": "{correctness}", "npoints": null, "msg": "", "hint": ""}}}}, "score": {{"raw_earned": {score}, "raw_possible": 1}}}}, "problem_id": "block-v1:Org+C1+2026+type@problem+block@p", "orig_score": {score}, "orig_total": 1, "student": "{student}", "task_id": "01a21be8-03e0-7363-842d-5d90bf4db270"}}"#
        )
    }

    fn unpack_text(packed: &[u8], dictionary: &str) -> Result<String, String> {
        unpack(packed, dictionary.as_bytes()).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    /// The packed form of `payload` on its own, or `None` when it stays as it is; packed in an
    /// area that already holds other bytes, as a reused one does.
    fn pack(payload: &str, dictionary: &str) -> Option<Vec<u8>> {
        let mut area = vec![0xa5; 64];
        pack_in(&mut area, payload.as_bytes(), dictionary.as_bytes()).map(<[u8]>::to_vec)
    }

    #[test]
    fn a_reused_area_packs_each_input_on_its_own() {
        let dictionary = rescore_payload("ann", "correct", 1);
        let mut area = Vec::new();
        let long = format!(
            "{}{}",
            rescore_payload("bob", "incorrect", 0),
            "y".repeat(5000)
        );
        let short = rescore_payload("carl", "correct", 1);
        let first = pack_in(&mut area, long.as_bytes(), dictionary.as_bytes())
            .expect("packs")
            .to_vec();
        let grown = area.len();
        let second = pack_in(&mut area, short.as_bytes(), dictionary.as_bytes())
            .expect("packs")
            .to_vec();
        assert_eq!(area.len(), grown, "the area is not shrunk");
        assert_eq!(unpack_text(&first, &dictionary).unwrap(), long);
        assert_eq!(unpack_text(&second, &dictionary).unwrap(), short);
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
            assert_eq!(unpack_text(&packed, &dictionary).unwrap(), payload);
        }
        // The most compressible payload there is (one long run) is not refused by the size bound.
        let run = format!(r#"{{"state": "{}"}}"#, "x".repeat(1 << 20));
        let packed = pack(&run, &dictionary).expect("a run packs");
        assert!(packed.len() < run.len() / 200);
        assert_eq!(unpack_text(&packed, &dictionary).unwrap(), run);
        // Unlike text still packs losslessly, and an unrelated dictionary still unpacks it.
        let other: String = (0..300)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        if let Some(packed) = pack(&other, &dictionary) {
            assert_eq!(unpack_text(&packed, &dictionary).unwrap(), other);
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
    fn damaged_packed_payloads_are_errors_not_panics() {
        let dictionary = rescore_payload("ann", "correct", 1);
        let payload = rescore_payload("bob", "incorrect", 0);
        let packed = pack(&payload, &dictionary).unwrap();

        assert!(
            unpack_text(&packed[..3], &dictionary)
                .unwrap_err()
                .contains("no length")
        );
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            unpack_text(&huge, &dictionary)
                .unwrap_err()
                .contains("more than any value")
        );
        let mut inflated = packed.clone();
        inflated[..4].copy_from_slice(&(packed.len() as u32 * 300).to_le_bytes());
        assert!(
            unpack_text(&inflated, &dictionary)
                .unwrap_err()
                .contains("packed bytes can hold")
        );
        let mut longer = packed.clone();
        longer[..4].copy_from_slice(&(payload.len() as u32 + 10).to_le_bytes());
        assert!(
            unpack_text(&longer, &dictionary)
                .unwrap_err()
                .contains("hold ")
        );
        let mut shorter = packed.clone();
        shorter[..4].copy_from_slice(&(payload.len() as u32 - 10).to_le_bytes());
        assert!(unpack_text(&shorter, &dictionary).is_err());
        assert!(unpack_text(&packed[..packed.len() - 5], &dictionary).is_err());
        // Every single-byte change is either caught or unpacks to some text: never a panic.
        for i in 4..packed.len() {
            let mut flipped = packed.clone();
            flipped[i] ^= 0x5a;
            let _ = unpack(&flipped, dictionary.as_bytes());
        }
    }
}
