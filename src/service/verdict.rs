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

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U, R> {
        match self {
            Verdict::Granted(value) => Verdict::Granted(f(value)),
            Verdict::Refused(reason) => Verdict::Refused(reason),
        }
    }

    pub fn map_refusal<S>(self, f: impl FnOnce(R) -> S) -> Verdict<T, S> {
        match self {
            Verdict::Granted(value) => Verdict::Granted(value),
            Verdict::Refused(reason) => Verdict::Refused(f(reason)),
        }
    }
}

impl<T, R> From<Result<T, R>> for Verdict<T, R> {
    fn from(result: Result<T, R>) -> Self {
        match result {
            Ok(value) => Verdict::Granted(value),
            Err(reason) => Verdict::Refused(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways_and_maps_each_side() {
        let granted: Verdict<u8, &str> = Ok(1).into();
        assert_eq!(granted.clone().map(|n| n + 1), Verdict::Granted(2));
        assert_eq!(granted.into_result(), Ok(1));
        let refused: Verdict<u8, &str> = Err("no").into();
        assert_eq!(refused.clone().map_refusal(str::len), Verdict::Refused(2));
        assert_eq!(refused.into_result(), Err("no"));
    }
}
