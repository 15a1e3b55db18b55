//! How many of this node's pooled database connections one tenant's SCIM requests may hold at
//! once: a tenant running twenty slow filters waits for its own slots instead of taking every
//! connection from the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Per-tenant semaphores of one node; a tenant with nothing in flight has no entry.
pub struct TenantSlots {
    per_tenant: usize,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One tenant's slot, held while its request uses the database; given back when dropped.
pub struct Slot {
    slots: Arc<TenantSlots>,
    tenant: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl TenantSlots {
    /// `per_tenant` slots for each tenant (at least 1).
    pub fn new(per_tenant: usize) -> Arc<TenantSlots> {
        Arc::new(TenantSlots { per_tenant: per_tenant.max(1), tenants: Mutex::default() })
    }

    /// `tenant_max_connections`, where 0 means half the pool (at least 1).
    pub fn for_pool(tenant_max_connections: usize, pool_size: u32) -> Arc<TenantSlots> {
        let half = usize::try_from(pool_size.div_ceil(2)).unwrap_or(usize::MAX);
        TenantSlots::new(if tenant_max_connections == 0 { half } else { tenant_max_connections })
    }

    /// A slot of `tenant`, waiting up to `wait` for one to be free; `None` when none was.
    pub async fn take(self: &Arc<Self>, tenant: &str, wait: Duration) -> Option<Slot> {
        let semaphore = self
            .lock()
            .entry(tenant.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
            .clone();
        let mut slot = Slot { slots: self.clone(), tenant: tenant.to_owned(), permit: None };
        // On a timeout `slot` is dropped without a permit, which still tidies the entry away.
        let permit = tokio::time::timeout(wait, semaphore.acquire_owned()).await.ok()?.ok()?;
        slot.permit = Some(permit);
        Some(slot)
    }

    /// Tenants with an entry (tests: idle tenants leave none behind).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Semaphore>>> {
        // Nothing here can be left half-done by a panic.
        self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut tenants = self.slots.lock();
        drop(self.permit.take());
        // Clones are made under this lock: the map's own is the last one when nobody waits.
        if let Some(semaphore) = tenants.get(&self.tenant)
            && Arc::strong_count(semaphore) == 1
            && semaphore.available_permits() == self.slots.per_tenant
        {
            tenants.remove(&self.tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_waits_for_its_own_slots_only() {
        let slots = TenantSlots::new(2);
        let wait = Duration::from_millis(10);
        let a1 = slots.take("a", wait).await.expect("first slot");
        let a2 = slots.take("a", wait).await.expect("second slot");
        assert!(slots.take("a", wait).await.is_none(), "a third waits, then gives up");
        let b = slots.take("b", wait).await.expect("another tenant is not held up");
        drop(a1);
        let a3 = slots.take("a", wait).await.expect("a slot given back is taken again");
        drop((a2, a3, b));
        assert_eq!(slots.tracked(), 0, "idle tenants leave no entry");
    }

    #[test]
    fn zero_means_half_the_pool() {
        assert_eq!(TenantSlots::for_pool(0, 16).per_tenant, 8);
        assert_eq!(TenantSlots::for_pool(0, 1).per_tenant, 1);
        assert_eq!(TenantSlots::for_pool(3, 16).per_tenant, 3);
    }
}
