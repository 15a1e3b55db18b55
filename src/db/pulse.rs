//! A wake-up call between threads of one node: writers that recorded events ring it after their
//! commit, the sequencer waits on it (with a timeout, since other nodes' writers cannot ring it).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Pulse {
    rung: Mutex<bool>,
    wake: Condvar,
}

impl Pulse {
    /// Wakes the waiter, or makes its next wait return at once. Rings coalesce.
    pub fn ring(&self) {
        let mut rung = self.rung.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *rung = true;
        self.wake.notify_all();
    }

    /// Waits until rung or `timeout` has passed; true when it was rung.
    pub fn wait(&self, timeout: Duration) -> bool {
        let rung = self.rung.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut rung, _) = self
            .wake
            .wait_timeout_while(rung, timeout, |rung| !*rung)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *rung, false)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_ring_before_the_wait_is_not_lost() {
        let pulse = Pulse::default();
        pulse.ring();
        pulse.ring();
        assert!(pulse.wait(Duration::from_secs(5)));
        assert!(!pulse.wait(Duration::from_millis(1)), "rings coalesce into one wake-up");
    }

    #[test]
    fn a_ring_from_another_thread_wakes_the_waiter() {
        let pulse = Arc::new(Pulse::default());
        let ringer = pulse.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ringer.ring();
        });
        assert!(pulse.wait(Duration::from_secs(30)));
        thread.join().unwrap();
    }
}
