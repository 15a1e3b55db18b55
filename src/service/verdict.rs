//! The answer of a use case once storage has done its part: what was asked for, or a refusal the
//! caller renders in its protocol's form. Writes made on the way (a counted sign-in failure, an
//! audit event) are committed in both cases; only an `Err(StoreError)` around a `Verdict` means
//! that nothing was.

use crate::db::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verdict<T, R> {
    Granted(T),
    Refused(R),
}

/// A use case that may refuse: storage errors outside, the decision inside.
pub type Decided<T, R> = Result<Verdict<T, R>, StoreError>;

impl<T, R> Verdict<T, R> {
    /// The decision as a plain `Result`, for callers that propagate refusals with `?`.
    pub fn into_result(self) -> Result<T, R> {
        match self {
            Verdict::Granted(value) => Ok(value),
            Verdict::Refused(reason) => Err(reason),
        }
    }

    /// What was granted, carried on by `f` (which may fail: storage errors stay outside).
    pub fn and_then<U>(self, f: impl FnOnce(T) -> Result<U, StoreError>) -> Decided<U, R> {
        match self {
            Verdict::Granted(value) => f(value).map(Verdict::Granted),
            Verdict::Refused(reason) => Ok(Verdict::Refused(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_a_result_for_callers_that_propagate_refusals() {
        assert_eq!(Verdict::<u8, &str>::Granted(1).into_result(), Ok(1));
        assert_eq!(Verdict::<u8, &str>::Refused("no").into_result(), Err("no"));
    }

    #[test]
    fn and_then_carries_a_grant_on_and_leaves_a_refusal_alone() {
        let double = |n: u8| Ok::<_, StoreError>(n * 2);
        assert_eq!(Verdict::<u8, &str>::Granted(2).and_then(double).unwrap(), Verdict::Granted(4));
        let refused = Verdict::<u8, &str>::Refused("no").and_then(double).unwrap();
        assert_eq!(refused, Verdict::Refused("no"));
        let failed = Verdict::<u8, &str>::Granted(2)
            .and_then(|_| Err::<u8, _>(StoreError::Invariant("x".into())));
        assert!(failed.is_err());
    }
}
