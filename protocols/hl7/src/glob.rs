//! Glob matching for routing rules on [`crate::Msh::message_type_full`]
//! (e.g. `message_type = "ADT^A*"`): `*` matches any run of characters
//! (including none), `?` exactly one character; everything else, including
//! `^`, matches itself. Case-sensitive, as HL7 codes (tables 0076, 0003) are.

/// True when `text` matches `pattern` as a whole.
///
/// Iterative with single-star backtracking: O(len(pattern) x len(text)) at
/// worst, no recursion, so hostile patterns or values cannot blow the stack.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` seen, and the text position it resumes at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                pi += 1;
                star = Some((pi, ti));
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("ADT^A*", "ADT^A01"));
        assert!(glob_match("ADT^A*", "ADT^A"));
        assert!(!glob_match("ADT^A*", "ORM^O01"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "ORU^R01"));
        assert!(glob_match("???^R01", "ORU^R01"));
        assert!(!glob_match("??^R01", "ORU^R01"));
        assert!(glob_match("*^O0?", "ORM^O01"));
        assert!(glob_match("A*B*C", "AxxBxxBxC"));
        assert!(!glob_match("A*B*C", "AxxBxxBx"));
        assert!(glob_match("ADT", "ADT"));
        assert!(!glob_match("ADT", "ADT^A01"));
        assert!(!glob_match("", "A"));
        assert!(glob_match("**a", "a"));
    }
}
