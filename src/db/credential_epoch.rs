//! Tells this node's credential cache that a commit revoked something. Repository functions that
//! revoke or disable a credential mark their thread; `Database::write` bumps the node's epoch once
//! the transaction committed, and every cached verification older than that epoch is void. Other
//! nodes learn of it when their entries expire (see `service::provisioning::credential_cache`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// Set by a repository write that revokes, taken by `Database::write` after its commit.
    static REVOKED: Cell<bool> = const { Cell::new(false) };
}

/// Records that the current transaction revokes or disables a credential.
pub fn mark_revoking() {
    REVOKED.with(|flag| flag.set(true));
}

/// Whether this thread marked a revocation since the last call (and forgets it).
pub(super) fn take_revoking() -> bool {
    REVOKED.with(|flag| flag.replace(false))
}

/// The node's revocation counter, shared by every clone of a `Database`.
#[derive(Debug, Default)]
pub struct CredentialEpoch(AtomicU64);

impl CredentialEpoch {
    /// The current epoch: read it before looking a credential up, and cache the answer under it.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_taken_once() {
        assert!(!take_revoking());
        mark_revoking();
        assert!(take_revoking());
        assert!(!take_revoking());
    }

    #[test]
    fn bumping_moves_the_epoch_forward() {
        let epoch = CredentialEpoch::default();
        let before = epoch.current();
        epoch.bump();
        assert_eq!(epoch.current(), before + 1);
    }
}
