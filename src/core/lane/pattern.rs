//! The guard in front of every delete by name: a [`LanePattern`] is a LIKE pattern proven to
//! match one lane's names only. It is made from a lane's prefix, or parsed from text and then
//! checked to be a literal lane prefix followed by one `%`; pattern cleanup, leak checks and
//! sweeps take nothing else.

use crate::core::error::{Error, Result};
use std::fmt;

/// Shortest literal prefix a pattern may have: a run prefix is 12 characters (a 10-character
/// run id and a separator), so anything shorter cannot be a pglane lane.
pub const MIN_LANE_PREFIX: usize = 8;

/// A LIKE pattern that matches one lane's names: its literal prefix (with `%`, `_` and `\`
/// escaped) followed by `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanePattern {
    pattern: String,
    /// The literal text every matching name starts with.
    prefix: String,
}

impl LanePattern {
    /// The pattern of every name starting with `prefix` (a lane's prefix: not checked).
    pub(crate) fn of_prefix(prefix: &str) -> LanePattern {
        LanePattern {
            pattern: format!("{}%", escape_like(prefix)),
            prefix: prefix.to_string(),
        }
    }

    /// Checks a pattern given as text: a literal prefix of at least [`MIN_LANE_PREFIX`]
    /// characters (`%`, `_` and `\` escaped inside it) and one `%` at the end, nothing else.
    /// `%`, `'abcd%'` or `'a_b%'` would match rows of other lanes or of the app: refused.
    pub fn parse(pattern: &str) -> Result<LanePattern> {
        let refuse = |why: &str| {
            Error::invalid_config(format!(
                "pattern {pattern:?} is not a lane's pattern: {why} (use ctx.testPattern(), workerPattern() or runPattern())"
            ))
        };
        let Some(body) = pattern.strip_suffix('%') else {
            return Err(refuse("it must end with %"));
        };
        let mut prefix = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => prefix.push(escaped),
                    // `...\%` escapes the final `%`: the pattern has no wildcard at all.
                    None => return Err(refuse("its final % is escaped")),
                },
                '%' | '_' => return Err(refuse("a wildcard may only come last")),
                c => prefix.push(c),
            }
        }
        let chars = prefix.chars().count();
        if chars < MIN_LANE_PREFIX {
            return Err(refuse(&format!(
                "it starts with {chars} literal characters, a lane prefix with at least {MIN_LANE_PREFIX}"
            )));
        }
        Ok(LanePattern {
            pattern: pattern.to_string(),
            prefix,
        })
    }

    /// Does every name this pattern matches belong to `outer`'s lane (e.g. a worker's pattern
    /// within its run's)?
    pub fn is_within(&self, outer: &LanePattern) -> bool {
        self.prefix.starts_with(&outer.prefix)
    }

    /// The LIKE pattern.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The literal text every matching name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for LanePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// Escapes `\`, `%` and `_` so that `s` matches itself literally in a LIKE pattern
/// (Postgres' default escape character is the backslash).
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Does `text` match the LIKE `pattern` (with `\` as escape), as Postgres would?
/// Used by tests to check patterns without a database.
pub fn like_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_like_escapes_the_three_specials() {
        assert_eq!(escape_like(r"a%b_c\d"), r"a\%b\_c\\d");
        assert!(like_matches(&escape_like("50%_off"), "50%_off"));
        assert!(!like_matches(&escape_like("50%_off"), "50%Xoff"));
    }

    #[test]
    fn broad_patterns_are_refused() {
        for broad in [
            "%",
            "abc%",
            "%%%%%",
            "_________%",
            "abcd%",
            r"\%\%\%\%%",
            "abc123xyz0-w",
            "abc_23xyz0-w%",
            r"abc123xyz0-w\%",
        ] {
            assert!(LanePattern::parse(broad).is_err(), "{broad}");
        }
        for lane in [r"\%\%\%\%\_\_\_\_%", "abc123xyz0-w%"] {
            assert!(LanePattern::parse(lane).is_ok(), "{lane}");
        }
    }

    #[test]
    fn a_parsed_pattern_matches_what_its_prefix_starts() {
        let p = LanePattern::parse(r"run\_id\%99-w3-%").unwrap();
        assert_eq!(p.prefix(), "run_id%99-w3-");
        assert!(like_matches(p.as_str(), "run_id%99-w3-Alice"));
        assert!(!like_matches(p.as_str(), "runXidX99-w3-Alice"));
        assert_eq!(LanePattern::of_prefix("run_id%99-w3-"), p);
    }

    #[test]
    fn a_worker_pattern_is_within_its_run() {
        let run = LanePattern::parse("abc123xyz0-w%").unwrap();
        assert!(LanePattern::parse("abc123xyz0-w3-%")
            .unwrap()
            .is_within(&run));
        assert!(!LanePattern::parse("zzz123xyz0-w3-%")
            .unwrap()
            .is_within(&run));
    }
}
