//! Routing: a pure function from a request's route key to a pool name. Routes are tried in
//! order; every key a route sets must match (globs with `*` and `?`, AE titles and message
//! types compared case-sensitively as the standards define them); the first match wins.

use crate::config::RouteSpec;

/// What a protocol handler knows about a request, for routing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteKey<'a> {
    pub called_ae: Option<&'a str>,
    pub calling_ae: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub sending_facility: Option<&'a str>,
    pub action: Option<&'a str>,
}

/// The pool of the first matching route, if any.
pub fn route<'r>(routes: &'r [RouteSpec], key: &RouteKey<'_>) -> Option<&'r str> {
    routes
        .iter()
        .find(|r| matches(r, key))
        .map(|r| r.pool.as_str())
}

fn matches(r: &RouteSpec, k: &RouteKey<'_>) -> bool {
    let one = |pat: &Option<String>, val: Option<&str>| match pat {
        None => true,
        Some(p) => val.is_some_and(|v| glob_match(p, v)),
    };
    one(&r.called_ae, k.called_ae)
        && one(&r.calling_ae, k.calling_ae)
        && one(&r.message_type, k.message_type)
        && one(&r.sending_facility, k.sending_facility)
        && one(&r.action, k.action)
}

/// `*` matches any run of characters, `?` exactly one; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // (ASCII wildcards: a byte search is the same as a char search, and cheaper.)
    if !pattern.bytes().any(|b| b == b'*' || b == b'?') {
        // A literal (e.g. an XDS action URN).
        return pattern == text;
    }
    if pattern.is_ascii() && text.is_ascii() {
        // AE titles, HL7 message types and facility codes are ASCII: one byte is one
        // character, so no per-call character vectors.
        glob_units(pattern.as_bytes(), text.as_bytes())
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        glob_units(&p, &t)
    }
}

/// The glob match over characters (or bytes of ASCII text): greedy, backtracking to the last
/// `*` only, so linear in practice and never exponential.
fn glob_units<U: Copy + PartialEq + From<u8>>(p: &[U], t: &[U]) -> bool {
    let (star, any) = (U::from(b'*'), U::from(b'?'));
    let (mut pi, mut ti) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == any || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            back = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = back {
            pi = sp + 1;
            ti = st + 1;
            back = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(called: Option<&str>, mt: Option<&str>, pool: &str) -> RouteSpec {
        RouteSpec {
            called_ae: called.map(String::from),
            message_type: mt.map(String::from),
            pool: pool.into(),
            ..Default::default()
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("CT*", "CT_SCANNER1"));
        assert!(glob_match("ADT^A*", "ADT^A01"));
        assert!(!glob_match("ADT^A*", "ORU^R01"));
        assert!(glob_match("A?C", "ABC"));
        assert!(!glob_match("A?C", "AC"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*X*Y", "aaXbbY"));
        assert!(!glob_match("ARCHIVE", "ARCHIVE2"));
        assert!(glob_match("*A*", "xAy"));
        assert!(!glob_match("A*B", "AxxBx"));
    }

    /// Outside ASCII a `?` is one character, not one byte.
    #[test]
    fn globs_on_non_ascii_text_count_characters() {
        assert!(glob_match("K?LN", "KÖLN"));
        assert!(!glob_match("K??LN", "KÖLN"));
        assert!(glob_match("*Ö*", "KÖLN"));
        assert!(glob_match("M?nchen*", "München-1"));
    }

    #[test]
    fn first_match_wins_and_unset_keys_do_not_match() {
        let routes = vec![
            r(Some("ARCHIVE"), None, "vna"),
            r(Some("A*"), None, "other"),
            r(None, Some("ORU^*"), "results"),
        ];
        let k = |called| RouteKey {
            called_ae: Some(called),
            ..Default::default()
        };
        assert_eq!(route(&routes, &k("ARCHIVE")), Some("vna"));
        assert_eq!(route(&routes, &k("ALPHA")), Some("other"));
        assert_eq!(route(&routes, &k("PACS")), None);
        let m = RouteKey {
            message_type: Some("ORU^R01"),
            ..Default::default()
        };
        assert_eq!(route(&routes, &m), Some("results"));
    }
}
