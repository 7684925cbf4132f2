//! Templates and value helpers of factory definitions: `{{placeholder}}` parsing, bcrypt
//! hashes, random tokens and the current time.

use crate::core::error::{Error, Result};
use serde_json::Value;

/// A piece of a template string.
#[derive(Debug)]
pub(super) enum Part {
    /// Literal text.
    Text(String),
    /// The name inside `{{...}}`.
    Placeholder(String),
}

/// Splits a string into literal text and `{{placeholder}}`s.
pub(super) fn parse_template(s: &str) -> std::result::Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ in {s:?}"))?;
        parts.push(Part::Placeholder(after[..end].to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// bcrypt with the cost from `PGLANE_BCRYPT_COST` (default 4: fast, and any bcrypt verifier,
/// Supabase Auth included, accepts it), in the `$2a$` form Supabase stores.
pub fn bcrypt_hash(password: &str) -> Result<String> {
    let cost = std::env::var("PGLANE_BCRYPT_COST")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(4)
        .clamp(4, 31);
    bcrypt::hash_with_result(password, cost)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| Error::internal(format!("bcrypt failed: {e}")))
}

/// The length a `token` helper asks for (1 to 255).
pub(super) fn token_length(arg: &Value) -> Option<usize> {
    arg.as_u64()
        .filter(|n| (1..=255).contains(n))
        .map(|n| n as usize)
}

/// `len` random characters of `[a-z0-9]` from the OS-seeded CSPRNG: the form Supabase Auth gives
/// refresh tokens (12 characters), usable for any secret token column.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Now, as an RFC 3339 UTC timestamp with microseconds.
pub(super) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_micros())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` of `secs` seconds (and `micros`) since 1970, UTC.
pub(super) fn rfc3339(secs: i64, micros: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        micros
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_placeholders() {
        let parts = parse_template("org-{{seq}}-{{ run }}").unwrap();
        assert_eq!(parts.len(), 4);
        assert!(parse_template("{{open").is_err());
        assert!(
            matches!(parse_template("plain").unwrap().as_slice(), [Part::Text(t)] if t == "plain")
        );
    }

    #[test]
    fn now_is_rfc3339() {
        let n = now_rfc3339();
        assert_eq!(n.len(), 27, "{n}");
        assert!(n.ends_with('Z') && n.as_bytes()[10] == b'T');
    }

    #[test]
    fn random_tokens_have_the_length_and_alphabet_asked_for() {
        let a = random_token(12);
        assert_eq!(a.len(), 12);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_ne!(a, random_token(12));
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let h = bcrypt_hash("s3cret").unwrap();
        assert!(h.starts_with("$2a$04$"));
        assert!(bcrypt::verify("s3cret", &h).unwrap());
    }
}
