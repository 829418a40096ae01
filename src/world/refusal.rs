//! The refusals every resource's rules share: what is wrong with the ids a call names.
//!
//! Each resource's rules refuse with an enum of their own ([`super::rules::Refusal`] for CVM instances,
//! [`super::bmc::Refusal`] for Bare Metal ones), and both hold a [`BatchRefusal`] for what the providers mean
//! alike: no id, too many, one twice, one unknown. Each provider maps it to its own code and message, in one place
//! (`provider/tencent/codes.rs`, `provider/zenlayer/mock.rs`), so a new resource or provider reuses the meaning and
//! writes only its wording.

use std::collections::HashSet;

/// What is wrong with the ids a call names: the batch as a whole, or one id that names nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchRefusal {
    /// No ids.
    Empty,
    /// More ids than the call allows: how many were given.
    TooLarge(usize),
    /// An id given twice.
    DuplicateId(String),
    /// No such resource for the caller (in the request's region, for a regional resource).
    NotFound(String),
}

/// Checks a batch of ids: at least one, at most `max`, none twice (the first repeated id is the one named).
pub fn check_batch(ids: &[impl AsRef<str>], max: usize) -> Result<(), BatchRefusal> {
    if ids.is_empty() {
        return Err(BatchRefusal::Empty);
    }
    check_size(ids, max)?;
    let repeated = if ids.len() <= SCANNED {
        // A few ids (nearly every call names one): compared with the ones before them, with no set to allocate.
        ids.iter()
            .enumerate()
            .find(|(at, id)| {
                ids[..*at]
                    .iter()
                    .any(|before| before.as_ref() == id.as_ref())
            })
            .map(|(_, id)| id)
    } else {
        let mut seen = HashSet::with_capacity(ids.len());
        ids.iter().find(|&id| !seen.insert(id.as_ref()))
    };
    match repeated {
        Some(id) => Err(BatchRefusal::DuplicateId(id.as_ref().to_owned())),
        None => Ok(()),
    }
}

/// The most ids [`check_batch`] compares pairwise rather than through a set.
const SCANNED: usize = 16;

/// Checks that an optional list of ids (a filter: none is allowed) names at most `max`.
pub fn check_size(ids: &[impl AsRef<str>], max: usize) -> Result<(), BatchRefusal> {
    if ids.len() > max {
        return Err(BatchRefusal::TooLarge(ids.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_batch_is_refused_empty_then_too_large_then_for_its_first_repeated_id() {
        assert_eq!(check_batch(&ids(&[]), 2), Err(BatchRefusal::Empty));
        assert_eq!(
            check_batch(&ids(&["a", "a", "a"]), 2),
            Err(BatchRefusal::TooLarge(3))
        );
        assert_eq!(
            check_batch(&ids(&["a", "b", "b", "a"]), 4),
            Err(BatchRefusal::DuplicateId("b".into()))
        );
        assert_eq!(check_batch(&ids(&["a", "b"]), 2), Ok(()));
        assert_eq!(check_size(&ids(&[]), 2), Ok(()));
    }

    #[test]
    fn a_long_batch_names_the_same_repeated_id_as_a_short_one() {
        let mut long: Vec<String> = (0..SCANNED).map(|n| format!("ins-{n}")).collect();
        long.extend(ids(&["b", "a", "b", "a"]));
        assert!(long.len() > SCANNED);
        assert_eq!(
            check_batch(&long, 100),
            Err(BatchRefusal::DuplicateId("b".into()))
        );
        assert_eq!(check_batch(&long[..SCANNED + 2], 100), Ok(()));
    }
}
