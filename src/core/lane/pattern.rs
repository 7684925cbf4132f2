//! The guard in front of every delete by name: a [`LanePattern`] matches one lane's names
//! only. It is never taken as free text: it is built from a valid run id, a name format and,
//! for a worker or a test, their numbers ([`LanePattern::of`]); text a caller gives (an import,
//! `cleanupPattern('<pattern>')`) is read back into those parts under a format and must come
//! out as exactly that lane's pattern ([`LanePattern::parse`]). Pattern cleanup, leak checks and
//! sweeps take nothing else.
//!
//! A pattern has two halves that a row must both pass: a LIKE pattern (the lane's literal
//! prefix and one `%`: an index can serve it) and, for a run or a worker, a regular expression
//! of the full lane shape, so `<run>-w%` takes `<run>-w3-7-Alice` but not an app's
//! `<run>-weekly report`.

use super::naming::{self, LaneScope, NameFormat};
use crate::core::error::{Error, Result};
use std::fmt;

/// Shortest literal prefix a lane pattern has: a run id (at least 8 characters) and its
/// separator. Anything shorter is not a lane's.
pub const MIN_LANE_PREFIX: usize = naming::MIN_RUN_ID + 1;

/// The names of one lane: a run, a worker of it, or a test of that worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanePattern {
    run_id: String,
    worker: Option<u32>,
    test: Option<u32>,
    /// The LIKE pattern: the escaped prefix and `%`.
    like: String,
    /// The literal text every matching name starts with.
    prefix: String,
    /// A POSIX regular expression of the full lane shape (`None` for a test, whose prefix is
    /// the whole shape).
    shape: Option<String>,
    /// The separators after a worker's and a test's number (for [`LanePattern::matches`]).
    after_worker: String,
    after_test: String,
}

impl LanePattern {
    /// The pattern of run `run_id`, or of its worker `worker`, or of that worker's test `test`
    /// (a test needs its worker), under `format`. The run id is checked.
    pub fn of(
        format: &NameFormat,
        run_id: &str,
        worker: Option<u32>,
        test: Option<u32>,
    ) -> Result<LanePattern> {
        naming::validate_run_id(run_id)?;
        if test.is_some() && worker.is_none() {
            return Err(Error::internal("a test lane needs its worker"));
        }
        Ok(LanePattern::checked(format, run_id, worker, test))
    }

    /// [`LanePattern::of`] for a run id already checked (a [`naming::Lane`]'s).
    pub(crate) fn checked(
        format: &NameFormat,
        run_id: &str,
        worker: Option<u32>,
        test: Option<u32>,
    ) -> LanePattern {
        let prefix = format.prefix(run_id, worker, test);
        let digits = "(0|[1-9][0-9]*)";
        let shape = match (worker, test) {
            (_, Some(_)) => None,
            (Some(_), None) => Some(format!(
                "^{}{digits}{}",
                escape_regex(&prefix),
                escape_regex(&format.after_test)
            )),
            (None, _) => Some(format!(
                "^{}{digits}{}{digits}{}",
                escape_regex(&prefix),
                escape_regex(&format.after_worker),
                escape_regex(&format.after_test)
            )),
        };
        LanePattern {
            run_id: run_id.to_string(),
            worker,
            test: test.filter(|_| worker.is_some()),
            like: format!("{}%", escape_like(&prefix)),
            prefix,
            shape,
            after_worker: format.after_worker.clone(),
            after_test: format.after_test.clone(),
        }
    }

    /// Reads a LIKE pattern given as text back into the lane it names under `format`: a run id,
    /// then optionally a worker number, then optionally a test number, each with its separator,
    /// escaped, and one `%`. Anything else (`%`, `'abcd%'`, `'a_b%'`, a prefix that stops
    /// inside a part) is refused: it would match rows of other lanes or of the app.
    pub fn parse(pattern: &str, format: &NameFormat) -> Result<LanePattern> {
        let refuse = |why: &str| {
            Error::invalid_config(format!(
                "pattern {:?} is not a lane's pattern: {why} (use ctx.testPattern(), workerPattern() or runPattern())",
                pattern.chars().take(80).collect::<String>()
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
        let run_len = prefix
            .bytes()
            .take_while(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            .count();
        let (run_id, mut rest) = prefix.split_at(run_len);
        if !naming::is_run_id(run_id) {
            return Err(refuse(&format!(
                "it does not start with a run id ({} to {} characters of 0-9 and a-z)",
                naming::MIN_RUN_ID,
                naming::MAX_RUN_ID
            )));
        }
        rest = rest
            .strip_prefix(format.after_run.as_str())
            .ok_or_else(|| {
                refuse(&format!(
                    "the run id is not followed by {:?}",
                    format.after_run
                ))
            })?;
        let mut numbers = Vec::new();
        for separator in [&format.after_worker, &format.after_test] {
            if rest.is_empty() {
                break;
            }
            let (n, after) = number_then(rest, separator).ok_or_else(|| {
                refuse(&format!(
                    "expected a number and {separator:?} after {:?}",
                    &prefix[..prefix.len() - rest.len()]
                ))
            })?;
            numbers.push(n);
            rest = after;
        }
        if !rest.is_empty() {
            return Err(refuse("it goes on after the test's separator"));
        }
        let lane = LanePattern::of(
            format,
            run_id,
            numbers.first().copied(),
            numbers.get(1).copied(),
        )?;
        if lane.like != pattern {
            return Err(refuse(&format!(
                "the lane's own pattern is {:?}",
                lane.like
            )));
        }
        Ok(lane)
    }

    /// The scope of this pattern.
    pub fn scope(&self) -> LaneScope {
        match (self.worker, self.test) {
            (_, Some(_)) => LaneScope::Test,
            (Some(_), None) => LaneScope::Worker,
            (None, None) => LaneScope::Run,
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The LIKE pattern.
    pub fn as_str(&self) -> &str {
        &self.like
    }

    /// The regular expression of the full lane shape a row must also match (`None` for a
    /// test's pattern: its literal prefix is the whole shape).
    pub fn shape(&self) -> Option<&str> {
        self.shape.as_deref()
    }

    /// The literal text every matching name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Does `text` belong to this lane (as Postgres would judge with the LIKE pattern and the
    /// shape)? For tests and checks without a database.
    pub fn matches(&self, text: &str) -> bool {
        let Some(rest) = text.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        match self.scope() {
            LaneScope::Test => true,
            LaneScope::Worker => number_then(rest, &self.after_test).is_some(),
            LaneScope::Run => number_then(rest, &self.after_worker)
                .and_then(|(_, r)| number_then(r, &self.after_test))
                .is_some(),
        }
    }
}

/// A decimal `u32` without leading zeros (as pglane writes numbers), then `separator`.
fn number_then<'a>(text: &'a str, separator: &str) -> Option<(u32, &'a str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at(digits);
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    Some((number.parse().ok()?, rest.strip_prefix(separator)?))
}

impl fmt::Display for LanePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.like)
    }
}

/// Escapes every character of `s` that is not a letter or digit for a Postgres (ARE) regular
/// expression: a backslash before a non-alphanumeric character makes it literal.
pub fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

    fn default() -> NameFormat {
        NameFormat::default()
    }

    #[test]
    fn escape_like_escapes_the_three_specials() {
        assert_eq!(escape_like(r"a%b_c\d"), r"a\%b\_c\\d");
        assert!(like_matches(&escape_like("50%_off"), "50%_off"));
        assert!(!like_matches(&escape_like("50%_off"), "50%Xoff"));
    }

    #[test]
    fn broad_or_forged_patterns_are_refused() {
        for broad in [
            "%",
            "abc%",
            "%%%%%",
            "_________%",
            "abcd%",
            r"\%\%\%\%\_\_\_\_%",
            "abc123xyz0-w",
            "abc_23xyz0-w%",
            r"abc123xyz0-w\%",
            "Acme Cor%",
            "abc123xyz0-weekly%",
            "abc123xyz0-w3%",
            "abc123xyz0-w03-%",
            "abc123xyz0-w3-7-x%",
            "abc123xyz0-w3-7%",
            "abc123x-w3-%",
            "ABC123XYZ0-w%",
        ] {
            assert!(LanePattern::parse(broad, &default()).is_err(), "{broad}");
        }
    }

    #[test]
    fn a_lane_pattern_reads_back_into_its_run_worker_and_test() {
        let f = default();
        let run = LanePattern::parse("abc123xyz0-w%", &f).unwrap();
        assert_eq!((run.scope(), run.run_id()), (LaneScope::Run, "abc123xyz0"));
        let worker = LanePattern::parse("abc123xyz0-w3-%", &f).unwrap();
        assert_eq!(
            worker,
            LanePattern::of(&f, "abc123xyz0", Some(3), None).unwrap()
        );
        let test = LanePattern::parse("abc123xyz0-w3-17-%", &f).unwrap();
        assert_eq!(test.scope(), LaneScope::Test);
        assert_eq!(test.prefix(), "abc123xyz0-w3-17-");
        let dotted = NameFormat::parse("{run}.x_{worker}.{test}.{name}").unwrap();
        let p = LanePattern::of(&dotted, "abc123xyz0", Some(3), None).unwrap();
        assert_eq!(p.as_str(), r"abc123xyz0.x\_3.%");
        assert_eq!(LanePattern::parse(p.as_str(), &dotted).unwrap(), p);
    }

    #[test]
    fn a_run_pattern_takes_the_full_lane_shape_only() {
        let run = LanePattern::of(&default(), "abc123xyz0", None, None).unwrap();
        assert!(run.matches("abc123xyz0-w3-7-Alice"));
        assert!(run.matches("abc123xyz0-w0-0-x@pglane.test"));
        for app_row in [
            "abc123xyz0-weekly report",
            "abc123xyz0-w3",
            "abc123xyz0-w3-",
            "abc123xyz0-w3-x-y",
            "abc123xyz0-w-1-2-x",
        ] {
            assert!(
                like_matches(run.as_str(), app_row),
                "LIKE alone takes {app_row}"
            );
            assert!(!run.matches(app_row), "{app_row}");
        }
        assert_eq!(
            run.shape(),
            Some(r"^abc123xyz0\-w(0|[1-9][0-9]*)\-(0|[1-9][0-9]*)\-")
        );
        let worker = LanePattern::of(&default(), "abc123xyz0", Some(3), None).unwrap();
        assert!(worker.matches("abc123xyz0-w3-12-x"));
        assert!(!worker.matches("abc123xyz0-w3-notes"));
        assert!(LanePattern::of(&default(), "abc123xyz0", Some(3), Some(1))
            .unwrap()
            .shape()
            .is_none());
    }

    #[test]
    fn runs_never_share_names_whatever_their_formats() {
        // The issue's case: `x{run}` with run `abcd...` against `{run}` with run `xabcd...`.
        assert!(NameFormat::parse("x{run}-w{worker}-{test}-{name}").is_err());
        let a = LanePattern::of(&default(), "xabcd1234", None, None).unwrap();
        let b = LanePattern::of(&default(), "xabcd12345", None, None).unwrap();
        assert!(!a.matches("xabcd12345-w1-2-x"));
        assert!(!b.matches("xabcd1234-w1-2-x"));
        let other = NameFormat::parse("{run}.{worker}.{test}.{name}").unwrap();
        let c = LanePattern::of(&other, "xabcd1234", None, None).unwrap();
        assert!(!c.matches("xabcd12345.1.2.x"));
    }

    #[test]
    fn run_ids_are_checked() {
        for bad in [
            "",
            "short",
            "UPPERCASE1",
            "has-dash1",
            &"a".repeat(33),
            "Acme Cor%",
        ] {
            assert!(
                LanePattern::of(&default(), bad, None, None).is_err(),
                "{bad}"
            );
        }
    }
}
