//! A TCP proxy between a server and its PostgreSQL, which a test can freeze (connections stay
//! open and nothing is forwarded: a database that stopped answering, like one under SIGSTOP) or
//! cut (every connection closed and new ones refused: a database that stopped), then resume.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

const FORWARD: u8 = 0;
const FREEZE: u8 = 1;
const CUT: u8 = 2;

pub struct DbProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
}

impl DbProxy {
    /// Listens on a free loopback port and forwards to `target` (`host:port`).
    pub fn start(target: &str) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let (target, shared) = (target.to_owned(), mode.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.load(Ordering::SeqCst) == CUT {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                for (from, to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    let mode = shared.clone();
                    std::thread::spawn(move || pump(from, to, &mode));
                }
            }
        });
        DbProxy { port, mode }
    }

    pub fn freeze(&self) {
        self.mode.store(FREEZE, Ordering::SeqCst);
    }

    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.mode.store(FORWARD, Ordering::SeqCst);
    }

    /// `url` (a `postgres://user@host[:port]/db` URL) through this proxy.
    pub fn url_through(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (auth, after_auth) = rest.rsplit_once('@').map_or(("", rest), |(a, r)| (a, r));
        let path = after_auth.find('/').map_or("", |i| &after_auth[i..]);
        let at = if auth.is_empty() { String::new() } else { format!("{auth}@") };
        format!("{scheme}://{at}127.0.0.1:{}{path}", self.port)
    }
}

/// Copies `from` to `to` while forwarding; holds everything while frozen; closes both when cut.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    loop {
        match mode.load(Ordering::SeqCst) {
            CUT => break,
            FREEZE => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                while mode.load(Ordering::SeqCst) == FREEZE {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if mode.load(Ordering::SeqCst) == CUT || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
