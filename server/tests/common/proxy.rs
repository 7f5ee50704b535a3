//! A TCP proxy between Beckon and its database that can hold the database's replies back:
//! a request can then be cancelled while its statement is on its way, deterministically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub struct HoldingProxy {
    pub addr: std::net::SocketAddr,
    holding: Arc<AtomicBool>,
    released: Arc<Notify>,
    /// Woken whenever the client sends something while replies are held.
    spoke_while_held: Arc<Notify>,
}

impl HoldingProxy {
    /// Starts forwarding connections made to `addr` to `upstream` (host:port).
    pub async fn start(upstream: String) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (holding, released, spoke) = (Arc::new(AtomicBool::new(false)), Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (h, r, s) = (holding.clone(), released.clone(), spoke.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let (h1, s1) = (h.clone(), s.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = client_read.read(&mut buf).await {
                        if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        if h1.load(Ordering::SeqCst) {
                            s1.notify_one();
                        }
                    }
                });
                let (h2, r2) = (h.clone(), r.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = server_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        while h2.load(Ordering::SeqCst) {
                            let waiting = r2.notified();
                            if !h2.load(Ordering::SeqCst) {
                                break;
                            }
                            waiting.await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        HoldingProxy { addr, holding, released, spoke_while_held: spoke }
    }

    /// From now on the database's replies wait until [`release`](Self::release).
    pub fn hold_replies(&self) {
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Waits until the client has sent something while replies are held.
    pub async fn client_spoke(&self) {
        let spoke = tokio::time::timeout(std::time::Duration::from_secs(10), self.spoke_while_held.notified()).await;
        assert!(spoke.is_ok(), "the client sent nothing within 10 s");
    }

    pub fn release(&self) {
        self.holding.store(false, Ordering::SeqCst);
        self.released.notify_waiters();
    }
}
