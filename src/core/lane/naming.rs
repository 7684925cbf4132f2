//! Lane names: run ids, the `{run}-w{worker}-{test}-{name}` format, slugs, emails, and the
//! LIKE patterns ([`LanePattern`]) that match exactly one lane's names.
//!
//! A lane is the data of one test (or one worker, or one run). Every name pglane makes starts
//! with the lane's prefix, and that prefix can be read back whatever the format:
//!
//! - every name starts with the run id (a format may put nothing before `{run}`), and a run id
//!   is 8 to 32 characters of `[0-9a-z]`, so the run of a name is its leading `[0-9a-z]` run;
//! - `{run}`, `{worker}` and `{test}` are each followed by a separator that starts with a
//!   character those values cannot hold (not `[0-9a-z]`), so `w1-` never matches `w12-`.
//!
//! So no two runs share a prefix, whichever formats they use, and a sweep of one run can match
//! the full lane shape (run, worker number, test number; see [`LanePattern`]).

use super::pattern::LanePattern;
use crate::core::error::{excerpt, Error, ErrorCode, Result};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
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

/// A new run id: six base-36 digits of the time (so ids sort by start time) and four more
/// (so runs started in the same second differ), 10 characters of `[0-9a-z]`. The four start
/// at a random point per process and count up from there, so one process never hands out the
/// same id twice (four random digits per call collided about once in 80 batches of 200).
pub fn generate_run_id() -> String {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let space = 36u64.pow(4);
    let counter = NEXT.get_or_init(|| AtomicU64::new(rand::random::<u64>() % space));
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(RUN_EPOCH_SECS);
    let mut id = base36_fixed(secs, 6);
    let tail = counter.fetch_add(1, Ordering::Relaxed) % space;
    id.push_str(&base36_fixed(tail, 4));
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

/// Shortest run id accepted.
pub const MIN_RUN_ID: usize = 8;
/// Longest run id accepted.
pub const MAX_RUN_ID: usize = 32;

/// Is `run_id` a run id: [`MIN_RUN_ID`] to [`MAX_RUN_ID`] characters of `[0-9a-z]`?
pub fn is_run_id(run_id: &str) -> bool {
    (MIN_RUN_ID..=MAX_RUN_ID).contains(&run_id.len())
        && run_id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// Checks a run id (from `PGLANE_RUN_ID`, an option, a registration or an import): 8 to 32
/// characters of `[0-9a-z]`. Every lane pattern is built from a run id that passed this.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    if is_run_id(run_id) {
        Ok(())
    } else {
        Err(Error::invalid_config(format!(
            "run id {:?} must be {MIN_RUN_ID} to {MAX_RUN_ID} characters of 0-9 and a-z (PGLANE_RUN_ID)",
            excerpt(run_id, 40)
        )))
    }
}

/// Checks a base name: not empty, at most [`MAX_BASE_CHARS`] characters, no control characters
/// and no U+FFFD (what a lone UTF-16 surrogate from JS becomes on its way here, so two
/// different JS strings would become one name). Invalid names are rejected, never silently
/// normalised, so two different inputs can never become the same name.
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
                    excerpt(base, 40),
                    c as u32
                ),
            ));
        }
        if c == char::REPLACEMENT_CHARACTER {
            return Err(Error::new(
                ErrorCode::InvalidName,
                format!(
                    "name {:?} contains U+FFFD or a lone UTF-16 surrogate, which cannot be stored as given",
                    excerpt(base, 40)
                ),
            ));
        }
    }
    if chars > MAX_BASE_CHARS {
        return Err(Error::new(
            ErrorCode::InvalidName,
            format!(
                "name {:?}... is {chars} characters long; at most {MAX_BASE_CHARS} are allowed",
                excerpt(base, 40)
            ),
        ));
    }
    Ok(())
}

/// A 64-bit digest of `text` as 16 hex digits (SHA-256, truncated): what keeps slugs and
/// shortened emails of different inputs apart. Not FNV: its collisions are easy to construct.
fn digest_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The lowercase `[a-z0-9-]` form of a string. When that loses anything, `--` and a 64-bit
/// digest of the original are appended: a lossless slug never holds `--` (runs of dashes are
/// what it collapses), so a lossy slug never equals a lossless one, and two lossy ones differ
/// unless SHA-256 collides in 64 bits.
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
        slug.push_str("--");
        slug.push_str(&digest_hex(base));
    }
    slug
}

/// A parsed name format: `{run}` first, then literal text around `{worker}`, `{test}` and
/// `{name}`, which must appear once each, in that order, with `{name}` last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFormat {
    pub(super) after_run: String,
    pub(super) after_worker: String,
    pub(super) after_test: String,
}

impl Default for NameFormat {
    fn default() -> Self {
        NameFormat::parse(DEFAULT_FORMAT).expect("the default format is valid")
    }
}

impl NameFormat {
    /// Parses a format such as `{run}-w{worker}-{test}-{name}`. It must start with `{run}` (so
    /// a name's run is its leading `[0-9a-z]` characters, whatever the format), and the text
    /// after `{run}`, `{worker}` and `{test}` must be non-empty and start with a character that
    /// cannot occur in those values (not `0-9a-z`), so one lane's prefix is never a prefix of
    /// another lane's. Literal text is limited to `a-z 0-9 . _ -` so names, slugs and emails
    /// share one prefix.
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
        if !literals[0].is_empty() {
            return Err(bad(
                "it must start with {run}: text before the run id would let one run's names pass for another's",
            ));
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
        let mut it = literals.into_iter().skip(1);
        Ok(NameFormat {
            after_run: it.next().unwrap_or_default(),
            after_worker: it.next().unwrap_or_default(),
            after_test: it.next().unwrap_or_default(),
        })
    }

    /// The format as text, e.g. `{run}-w{worker}-{test}-{name}` (what [`NameFormat::parse`]
    /// reads back).
    pub fn text(&self) -> String {
        format!(
            "{{run}}{}{{worker}}{}{{test}}{}{{name}}",
            self.after_run, self.after_worker, self.after_test
        )
    }

    /// The literal prefix of a lane: the run's, or a worker's within it, or a test's within that
    /// (`test` is only read with `worker`).
    pub(super) fn prefix(&self, run_id: &str, worker: Option<u32>, test: Option<u32>) -> String {
        let mut prefix = format!("{run_id}{}", self.after_run);
        if let Some(w) = worker {
            prefix.push_str(&format!("{w}{}", self.after_worker));
            if let Some(t) = test {
                prefix.push_str(&format!("{t}{}", self.after_test));
            }
        }
        prefix
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
    /// `run`, `worker` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            LaneScope::Run => "run",
            LaneScope::Worker => "worker",
            LaneScope::Test => "test",
        }
    }

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

/// One test's lane: its format and ids, the prefixes of its run, worker and test, and the
/// email domain.
#[derive(Debug, Clone)]
pub struct Lane {
    format: NameFormat,
    run_id: String,
    worker_id: u32,
    test_index: u32,
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
        Ok(Lane {
            run_prefix: format.prefix(run_id, None, None),
            worker_prefix: format.prefix(run_id, Some(worker_id), None),
            test_prefix: format.prefix(run_id, Some(worker_id), Some(test_index)),
            format: format.clone(),
            run_id: run_id.to_string(),
            worker_id,
            test_index,
            email_domain: email_domain.to_string(),
        })
    }

    /// The name format of this lane.
    pub fn format(&self) -> &NameFormat {
        &self.format
    }

    /// The literal prefix every name of `scope` starts with.
    pub fn prefix(&self, scope: LaneScope) -> &str {
        match scope {
            LaneScope::Run => &self.run_prefix,
            LaneScope::Worker => &self.worker_prefix,
            LaneScope::Test => &self.test_prefix,
        }
    }

    /// The pattern that matches exactly the names, slugs and emails of `scope`.
    pub fn pattern(&self, scope: LaneScope) -> LanePattern {
        let (worker, test) = match scope {
            LaneScope::Run => (None, None),
            LaneScope::Worker => (Some(self.worker_id), None),
            LaneScope::Test => (Some(self.worker_id), Some(self.test_index)),
        };
        LanePattern::checked(&self.format, &self.run_id, worker, test)
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
            let hash = digest_hex(base);
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
        assert_eq!(l.format().text(), DEFAULT_FORMAT);
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
        // A 24-bit FNV suffix made these two one slug.
        assert_ne!(slugify("a:++!b"), slugify("a!$#?b"));
        // A lossy slug never equals a lossless one, whatever the lossless one says.
        let lossy = slugify("Acme Corp!");
        assert!(lossy.starts_with("acme-corp--"), "{lossy}");
        // `--` only ever comes from pglane: a lossless slug never holds it.
        assert_eq!(slugify("acme-corp"), "acme-corp");
        assert_ne!(slugify(&lossy), lossy);
    }

    #[test]
    fn a_replacement_character_is_not_a_name() {
        // What lone surrogates ('\uD800', '\uDC00') become on the way from JS: one character
        // for many inputs, so it is refused instead of stored.
        let l = lane("abc123xyz0", 0, 0);
        for bad in ["\u{FFFD}", "a\u{FFFD}b"] {
            assert_eq!(l.name(bad).unwrap_err().code(), ErrorCode::InvalidName);
            assert_eq!(l.slug(bad).unwrap_err().code(), ErrorCode::InvalidName);
        }
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
        for bad in [
            "UPPERCASE1",
            "a-b-c-d-e",
            "abcd",
            "abcdefg",
            &"a".repeat(33),
        ] {
            assert!(validate_run_id(bad).is_err(), "{bad}");
        }
        validate_run_id("abcdefgh").unwrap();
        assert!(base36_fixed(35, 2) < base36_fixed(36, 2));
        let many: std::collections::HashSet<String> =
            (0..5000).map(|_| generate_run_id()).collect();
        assert_eq!(many.len(), 5000, "one process never repeats a run id");
    }

    #[test]
    fn formats_must_keep_lanes_apart() {
        let dotted = NameFormat::parse("{run}.e2e.w{worker}.{test}.{name}").unwrap();
        assert_eq!(NameFormat::parse(&dotted.text()).unwrap(), dotted);
        for bad in [
            "e2e-{run}.w{worker}.{test}.{name}",
            "x{run}-w{worker}-{test}-{name}",
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
