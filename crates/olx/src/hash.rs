//! A stable fingerprint of a problem's XML, used to notice that a problem
//! changed between two imports of the same course.

use md5::{Digest, Md5};

/// Lowercase hex MD5 (32 characters) of the problem XML, after normalising
/// line endings to `\n` and trimming leading and trailing whitespace.
///
/// The normalisation keeps the hash stable across exports made on different
/// platforms and across editors that add a trailing newline; any other
/// change, including whitespace inside the XML, gives a new hash. MD5 is
/// used as a change detector, not for security.
pub fn content_hash(xml: &str) -> String {
    let normalised = xml.replace("\r\n", "\n").replace('\r', "\n");
    hex::encode(Md5::digest(normalised.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_and_normalisation() {
        // MD5 of the empty string.
        assert_eq!(content_hash(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(content_hash("  \n"), content_hash(""));
        let a = content_hash("<problem>\n<p>x</p>\n</problem>\n");
        assert_eq!(a, content_hash("<problem>\r\n<p>x</p>\r\n</problem>"));
        assert_ne!(a, content_hash("<problem>\n<p>y</p>\n</problem>"));
        assert_eq!(a.len(), 32);
    }
}
