//! Lane names: run ids, the `{run}-w{worker}-{test}-{name}` format, slugs, emails, and the
//! LIKE patterns ([`LanePattern`]) that match exactly one lane's names.
//!
//! A lane is the data of one test (or one worker, or one run). Every name pglane makes starts
//! with the lane's prefix, and the separators after the run id, the worker id and the test index
//! can never occur inside those values, so the prefix of one lane is never a prefix of another's.

use super::pattern::LanePattern;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::fnv::fnv1a_64;
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest base name accepted by `name()`, in characters.
pub const MAX_BASE_CHARS: usize = 128;
/// Longest local part of an email address (RFC 5321).
const MAX_EMAIL_LOCAL: usize = 64;
/// The default name format.
pub const DEFAULT_FORMAT: &str = "{run}-w{worker}-{test}-{name}";
/// The default domain of lane emails (`.test` is reserved, RFC 2606).
pub const DEFAULT_EMAIL_DOMAIN: &str = "pglane.test";

const RUN_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Run ids count seconds from 2024-01-01 so six base-36 digits last until 2093.
const RUN_EPOCH_SECS: u64 = 1_704_067_200;

/// A new run id: six base-36 digits of the time (so ids sort by start time) and four random
/// ones (so runs started in the same second differ), 10 characters of `[0-9a-z]`.
pub fn generate_run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(RUN_EPOCH_SECS);
    let mut id = base36_fixed(secs, 6);
    let random: u64 = rand::random::<u64>() % 36u64.pow(4);
    id.push_str(&base36_fixed(random, 4));
    id
}

fn base36_fixed(mut n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = RUN_ALPHABET[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(digits).expect("ascii digits")
}

/// Checks a run id taken from the environment: 4 to 32 characters of `[0-9a-z]`.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let ok = (4..=32).contains(&run_id.len())
        && run_id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_config(format!(
            "run id {run_id:?} must be 4 to 32 characters of 0-9 and a-z (PGLANE_RUN_ID)"
        )))
    }
}

/// Checks a base name: not empty, at most [`MAX_BASE_CHARS`] characters, no control characters.
/// Invalid names are rejected, never silently normalised, so two different inputs can never
/// become the same name.
pub fn validate_base(base: &str) -> Result<()> {
    if base.is_empty() {
        return Err(Error::new(ErrorCode::InvalidName, "name must not be empty"));
    }
    let mut chars = 0usize;
    for c in base.chars() {
        chars += 1;
        if c.is_control() {
            return Err(Error::new(
                ErrorCode::InvalidName,
                format!(
                    "name {:?} contains the control character U+{:04X}",
                    truncate_for_message(base),
                    c as u32
                ),
            ));
        }
    }
    if chars > MAX_BASE_CHARS {
        return Err(Error::new(
            ErrorCode::InvalidName,
            format!(
                "name {:?}... is {chars} characters long; at most {MAX_BASE_CHARS} are allowed",
                truncate_for_message(base)
            ),
        ));
    }
    Ok(())
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The lowercase `[a-z0-9-]` form of a string. When that loses anything, a short hash of the
/// original is appended so that different inputs keep different slugs.
pub fn slugify(base: &str) -> String {
    let mut slug = String::with_capacity(base.len());
    let mut dash = false;
    for c in base.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
            dash = false;
        } else if !dash && !slug.is_empty() {
            slug.push('-');
            dash = true;
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug != base {
        let hash = format!("{:06x}", fnv1a_64([base.as_bytes()]) & 0xff_ffff);
        if slug.is_empty() {
            slug = hash;
        } else {
            slug.push('-');
            slug.push_str(&hash);
        }
    }
    slug
}

/// A parsed name format: literal text around `{run}`, `{worker}`, `{test}` and `{name}`, which
/// must appear once each, in that order, with `{name}` last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFormat {
    lead: String,
    after_run: String,
    after_worker: String,
    after_test: String,
}

impl Default for NameFormat {
    fn default() -> Self {
        NameFormat::parse(DEFAULT_FORMAT).expect("the default format is valid")
    }
}

impl NameFormat {
    /// Parses a format such as `{run}-w{worker}-{test}-{name}`. The text after `{run}`,
    /// `{worker}` and `{test}` must be non-empty and start with a character that cannot occur in
    /// those values (not `0-9a-z`), so one lane's prefix is never a prefix of another lane's.
    /// Literal text is limited to `a-z 0-9 . _ -` so names, slugs and emails share one prefix.
    pub fn parse(format: &str) -> Result<NameFormat> {
        let bad =
            |why: &str| Error::invalid_config(format!("name format {format:?} is invalid: {why}"));
        let mut rest = format;
        let mut literals = Vec::with_capacity(4);
        for placeholder in ["{run}", "{worker}", "{test}", "{name}"] {
            let at = rest.find(placeholder).ok_or_else(|| {
                bad(&format!(
                    "{placeholder} must appear once, after the ones before it"
                ))
            })?;
            literals.push(rest[..at].to_string());
            rest = &rest[at + placeholder.len()..];
        }
        if !rest.is_empty() {
            return Err(bad("{name} must come last"));
        }
        for (i, lit) in literals.iter().enumerate() {
            if lit.contains('{') || lit.contains('}') {
                return Err(bad("each placeholder must appear exactly once"));
            }
            if !lit.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            }) {
                return Err(bad("literal text may only use a-z, 0-9, '.', '_' and '-'"));
            }
            if i > 0 {
                match lit.bytes().next() {
                    Some(b) if !(b.is_ascii_lowercase() || b.is_ascii_digit()) => {}
                    _ => {
                        return Err(bad(
                            "{run}, {worker} and {test} must each be followed by a separator such as '-'",
                        ))
                    }
                }
            }
        }
        let mut it = literals.into_iter();
        Ok(NameFormat {
            lead: it.next().unwrap_or_default(),
            after_run: it.next().unwrap_or_default(),
            after_worker: it.next().unwrap_or_default(),
            after_test: it.next().unwrap_or_default(),
        })
    }
}

/// The scope of a lane: a whole run, one worker process of it, or one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneScope {
    /// Every name of the run.
    Run,
    /// Every name made by one worker process.
    Worker,
    /// Every name made by one test.
    Test,
}

impl LaneScope {
    /// Parses `run`, `worker` or `test`.
    pub fn parse(s: &str) -> Result<LaneScope> {
        match s {
            "run" => Ok(LaneScope::Run),
            "worker" => Ok(LaneScope::Worker),
            "test" => Ok(LaneScope::Test),
            other => Err(Error::invalid_config(format!(
                "unknown lane scope {other:?}: use \"run\", \"worker\" or \"test\""
            ))),
        }
    }
}

/// One test's lane: the prefixes of its run, worker and test, and the email domain.
#[derive(Debug, Clone)]
pub struct Lane {
    run_prefix: String,
    worker_prefix: String,
    test_prefix: String,
    email_domain: String,
}

impl Lane {
    /// The lane of test `test_index` of worker `worker_id` in run `run_id`.
    pub fn new(
        format: &NameFormat,
        run_id: &str,
        worker_id: u32,
        test_index: u32,
        email_domain: &str,
    ) -> Result<Lane> {
        validate_run_id(run_id)?;
        validate_email_domain(email_domain)?;
        let run_prefix = format!("{}{}{}", format.lead, run_id, format.after_run);
        let worker_prefix = format!("{run_prefix}{worker_id}{}", format.after_worker);
        let test_prefix = format!("{worker_prefix}{test_index}{}", format.after_test);
        Ok(Lane {
            run_prefix,
            worker_prefix,
            test_prefix,
            email_domain: email_domain.to_string(),
        })
    }

    /// The literal prefix every name of `scope` starts with.
    pub fn prefix(&self, scope: LaneScope) -> &str {
        match scope {
            LaneScope::Run => &self.run_prefix,
            LaneScope::Worker => &self.worker_prefix,
            LaneScope::Test => &self.test_prefix,
        }
    }

    /// The LIKE pattern that matches exactly the names, slugs and emails of `scope`.
    pub fn pattern(&self, scope: LaneScope) -> LanePattern {
        LanePattern::of_prefix(self.prefix(scope))
    }

    /// `{test prefix}{base}`, e.g. `0ab3k9x2q1-w3-7-Alice`.
    pub fn name(&self, base: &str) -> Result<String> {
        validate_base(base)?;
        let mut name = String::with_capacity(self.test_prefix.len() + base.len());
        name.push_str(&self.test_prefix);
        name.push_str(base);
        Ok(name)
    }

    /// A URL-safe lowercase name: `{test prefix}{slugify(base)}`.
    pub fn slug(&self, base: &str) -> Result<String> {
        validate_base(base)?;
        Ok(format!("{}{}", self.test_prefix, slugify(base)))
    }

    /// A lowercase email in the lane: `{test prefix}{slug}@{domain}`, with the local part kept
    /// within 64 characters (a hash keeps truncated ones distinct).
    pub fn email(&self, base: &str) -> Result<String> {
        validate_base(base)?;
        let mut slug = slugify(base);
        let room = MAX_EMAIL_LOCAL.saturating_sub(self.test_prefix.len());
        if slug.len() > room {
            let hash = format!("{:08x}", fnv1a_64([base.as_bytes()]) & 0xffff_ffff);
            if room < hash.len() + 1 {
                return Err(Error::new(
                    ErrorCode::InvalidName,
                    "the lane prefix leaves no room for an email local part",
                ));
            }
            slug.truncate(room - hash.len() - 1);
            slug.push('-');
            slug.push_str(&hash);
        }
        Ok(format!(
            "{}{}@{}",
            self.test_prefix, slug, self.email_domain
        ))
    }
}

fn validate_email_domain(domain: &str) -> Result<()> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_config(format!(
            "email domain {domain:?} must be a lowercase host name such as \"pglane.test\""
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::lane::pattern::like_matches;

    fn lane(run: &str, w: u32, t: u32) -> Lane {
        Lane::new(&NameFormat::default(), run, w, t, DEFAULT_EMAIL_DOMAIN).unwrap()
    }

    #[test]
    fn names_follow_the_default_format() {
        let l = lane("abc123xyz0", 3, 7);
        assert_eq!(l.name("Alice").unwrap(), "abc123xyz0-w3-7-Alice");
        assert!(l
            .slug("Acme Corp!")
            .unwrap()
            .starts_with("abc123xyz0-w3-7-acme-corp-"));
        assert_eq!(l.email("bob").unwrap(), "abc123xyz0-w3-7-bob@pglane.test");
        assert_eq!(l.pattern(LaneScope::Test).as_str(), "abc123xyz0-w3-7-%");
        assert_eq!(l.pattern(LaneScope::Worker).as_str(), "abc123xyz0-w3-%");
        assert_eq!(l.pattern(LaneScope::Run).as_str(), "abc123xyz0-w%");
    }

    #[test]
    fn test_pattern_does_not_match_a_longer_test_index() {
        let a = lane("abc123xyz0", 1, 2);
        let b = lane("abc123xyz0", 1, 23);
        let c = lane("abc123xyz0", 12, 2);
        let name_b = b.name("x").unwrap();
        let name_c = c.name("x").unwrap();
        assert!(!like_matches(a.pattern(LaneScope::Test).as_str(), &name_b));
        assert!(!like_matches(
            a.pattern(LaneScope::Worker).as_str(),
            &name_c
        ));
        assert!(like_matches(
            a.pattern(LaneScope::Worker).as_str(),
            &a.name("%").unwrap()
        ));
    }

    #[test]
    fn invalid_bases_are_rejected_with_a_code() {
        let l = lane("abc123xyz0", 0, 0);
        for bad in ["", "a\nb", "tab\there", &"x".repeat(MAX_BASE_CHARS + 1)] {
            let err = l.name(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidName, "{bad:?}");
        }
        assert!(l.name(&"é".repeat(MAX_BASE_CHARS)).is_ok());
    }

    #[test]
    fn slugs_keep_distinct_inputs_distinct() {
        assert_eq!(slugify("plain-slug"), "plain-slug");
        assert_ne!(slugify("a b"), slugify("a-b"));
        assert_ne!(slugify("日本"), slugify("中国"));
        assert!(slugify("日本")
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }

    #[test]
    fn emails_stay_within_64_characters_and_distinct() {
        let l = lane("abc123xyz0", 99_999, 999_999);
        let long_a = format!("{}a", "x".repeat(120));
        let long_b = format!("{}b", "x".repeat(120));
        let a = l.email(&long_a).unwrap();
        let b = l.email(&long_b).unwrap();
        assert!(a.split('@').next().unwrap().len() <= 64, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn run_ids_are_short_sortable_and_valid() {
        let a = generate_run_id();
        assert_eq!(a.len(), 10);
        validate_run_id(&a).unwrap();
        assert!(validate_run_id("UPPER").is_err());
        assert!(validate_run_id("a-b-c").is_err());
        assert!(base36_fixed(35, 2) < base36_fixed(36, 2));
    }

    #[test]
    fn formats_must_keep_lanes_apart() {
        NameFormat::parse("e2e-{run}.w{worker}.{test}.{name}").unwrap();
        for bad in [
            "{run}{worker}-{test}-{name}",
            "{run}-w{worker}x{test}-{name}",
            "{run}-{test}-{worker}-{name}",
            "{run}-w{worker}-{test}-{name}-tail",
            "{run}-w{worker}-{test}-{name}{name}",
            "{run}-W{worker}-{test}-{name}",
            "{worker}-{test}-{name}",
        ] {
            let err = NameFormat::parse(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidConfig, "{bad}");
        }
    }
}
