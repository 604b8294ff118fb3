//! An AE title as received in an A-ASSOCIATE-RQ or -AC field (PS3.8 §9.3.2; PS3.5 §6.2, VR AE:
//! at most 16 characters, leading and trailing spaces not significant), held inline: reading
//! the two AE titles of every association allocates nothing.

use crate::ae::{trim_ae_field, AE_TITLE_LEN};
use std::fmt;
use std::ops::Deref;

/// Room for the longest decoded title: 16 field bytes, each non-ASCII byte (read as Latin-1)
/// two bytes of UTF-8.
const CAP: usize = 2 * AE_TITLE_LEN;

/// A decoded AE title: padding removed, non-ASCII bytes mapped as Latin-1 (never rejected:
/// what a broken peer sent is still logged and routed on as it was).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AeTitle {
    len: u8,
    bytes: [u8; CAP],
}

impl AeTitle {
    /// Decodes an AE field (16 bytes; only the first 16 of a longer slice are read).
    pub fn from_field(field: &[u8]) -> AeTitle {
        let t = trim_ae_field(field.get(..AE_TITLE_LEN).unwrap_or(field));
        let mut ae = AeTitle {
            len: 0,
            bytes: [0; CAP],
        };
        if t.is_ascii() {
            // The usual case: the bytes as they are (t is at most 16 of them).
            if let Some(dst) = ae.bytes.get_mut(..t.len()) {
                dst.copy_from_slice(t);
                ae.len = t.len() as u8;
            }
            return ae;
        }
        let mut n = 0usize;
        for &b in t {
            let mut utf8 = [0u8; 2];
            let c = char::from(b).encode_utf8(&mut utf8).as_bytes();
            // At most 16 bytes of at most 2 each: always room.
            let end = n.saturating_add(c.len());
            if let Some(dst) = ae.bytes.get_mut(n..end) {
                dst.copy_from_slice(c);
                n = end;
            }
        }
        ae.len = n as u8;
        ae
    }

    /// The title as text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        // Built from whole UTF-8 encodings only, so this never falls back.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl Deref for AeTitle {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for AeTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AeTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for AeTitle {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AeTitle {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for AeTitle {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<AeTitle> for String {
    fn eq(&self, other: &AeTitle) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_goes_and_latin1_is_kept() {
        assert_eq!(AeTitle::from_field(b"  ARCHIVE       "), "ARCHIVE");
        assert_eq!(AeTitle::from_field(b"ECHOSCU\0\0\0\0\0\0\0\0\0"), "ECHOSCU");
        assert_eq!(AeTitle::from_field(&[b' '; 16]), "");
        // Sixteen non-ASCII bytes: 32 bytes of UTF-8, the most it can hold.
        let all = AeTitle::from_field(&[0xe9; 16]);
        assert_eq!(all.as_str(), "é".repeat(16));
        assert_eq!(all.len(), 32);
        // Only the field is read.
        assert_eq!(AeTitle::from_field(b"PACS1           TRAILING"), "PACS1");
    }

    #[test]
    fn shows_as_its_text() {
        let ae = AeTitle::from_field(b"STORESCU        ");
        assert_eq!(ae.to_string(), "STORESCU");
        assert_eq!(format!("{ae:?}"), "\"STORESCU\"");
        assert_eq!(String::from("STORESCU"), ae);
    }
}
