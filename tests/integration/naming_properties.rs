//! Property tests: over many random inputs (with `%`, `_`, `\`, quotes and unicode), lane names
//! are unique and each lane's LIKE pattern matches exactly its own names.

use pglane::core::lane::naming::{Lane, LaneScope, NameFormat, DEFAULT_EMAIL_DOMAIN};
use pglane::core::lane::pattern::{escape_like, like_matches};
use proptest::prelude::*;
use std::collections::HashSet;

fn base() -> impl Strategy<Value = String> {
    prop::string::string_regex(r#"[a-zA-Z0-9%_\\'" .\-é日本😀]{1,40}"#).unwrap()
}

fn run_id() -> impl Strategy<Value = String> {
    prop::string::string_regex("[0-9a-z]{10}").unwrap()
}

fn separator() -> impl Strategy<Value = String> {
    prop::string::string_regex("[-._][a-z0-9._-]{0,3}").unwrap()
}

fn format() -> impl Strategy<Value = NameFormat> {
    (separator(), separator(), separator()).prop_map(|(a, b, c)| {
        NameFormat::parse(&format!("{{run}}{a}{{worker}}{b}{{test}}{c}{{name}}")).unwrap()
    })
}

fn lane(run: &str, worker: u32, test: u32) -> Lane {
    Lane::new(
        &NameFormat::default(),
        run,
        worker,
        test,
        DEFAULT_EMAIL_DOMAIN,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn names_of_different_lanes_never_collide(
        runs in prop::collection::vec(run_id(), 1..3),
        workers in prop::collection::vec(0u32..40, 1..4),
        tests in prop::collection::vec(0u32..200, 1..4),
        bases in prop::collection::hash_set(base(), 1..5),
    ) {
        let mut seen = HashSet::new();
        let mut lanes = HashSet::new();
        for r in &runs { for w in &workers { for t in &tests {
            if !lanes.insert((r.clone(), *w, *t)) { continue; }
            let l = lane(r, *w, *t);
            for b in &bases {
                prop_assert!(seen.insert(l.name(b).unwrap()), "name collision");
            }
        }}}
    }

    #[test]
    fn a_lane_pattern_matches_exactly_its_own_names(
        run_a in run_id(), run_b in run_id(),
        wa in 0u32..120, wb in 0u32..120, ta in 0u32..1200, tb in 0u32..1200,
        b in base(),
    ) {
        let a = lane(&run_a, wa, ta);
        let other = lane(&run_b, wb, tb);
        for value in [a.name(&b).unwrap(), a.slug(&b).unwrap(), a.email(&b).unwrap()] {
            prop_assert!(like_matches(a.pattern(LaneScope::Test).as_str(), &value));
            prop_assert!(like_matches(a.pattern(LaneScope::Worker).as_str(), &value));
            prop_assert!(like_matches(a.pattern(LaneScope::Run).as_str(), &value));
        }
        let same_test = run_a == run_b && wa == wb && ta == tb;
        let same_worker = run_a == run_b && wa == wb;
        let same_run = run_a == run_b;
        for value in [other.name(&b).unwrap(), other.slug(&b).unwrap(), other.email(&b).unwrap()] {
            prop_assert_eq!(like_matches(a.pattern(LaneScope::Test).as_str(), &value), same_test);
            prop_assert_eq!(like_matches(a.pattern(LaneScope::Worker).as_str(), &value), same_worker);
            prop_assert_eq!(like_matches(a.pattern(LaneScope::Run).as_str(), &value), same_run);
        }
    }

    #[test]
    fn no_run_matches_another_runs_names_whatever_their_formats(
        run_a in prop::string::string_regex("[0-9a-z]{8,12}").unwrap(),
        run_b in prop::string::string_regex("[0-9a-z]{8,12}").unwrap(),
        fa in format(), fb in format(),
        w in 0u32..200, t in 0u32..2000, b in base(),
    ) {
        let a = Lane::new(&fa, &run_a, w, t, DEFAULT_EMAIL_DOMAIN).unwrap();
        let other = Lane::new(&fb, &run_b, w, t, DEFAULT_EMAIL_DOMAIN).unwrap();
        for value in [a.name(&b).unwrap(), a.slug(&b).unwrap(), a.email(&b).unwrap()] {
            prop_assert!(a.pattern(LaneScope::Run).matches(&value));
            prop_assert!(a.pattern(LaneScope::Worker).matches(&value));
        }
        if run_a != run_b {
            for value in [other.name(&b).unwrap(), other.slug(&b).unwrap(), other.email(&b).unwrap()] {
                prop_assert!(!a.pattern(LaneScope::Run).matches(&value), "{} took {}", a.pattern(LaneScope::Run), value);
            }
        }
    }

    #[test]
    fn escaped_text_matches_only_itself(s in base(), t in base()) {
        prop_assert!(like_matches(&escape_like(&s), &s));
        prop_assert_eq!(like_matches(&escape_like(&s), &t), s == t);
    }
}
