//! A TCP relay between jcdiag and the intake that counts the bytes jcdiag sends and can cut
//! or stall the connection once, after a given number of bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Pass everything.
    None,
    /// Close the connection after this many client bytes (once).
    CutAfter(u64),
    /// Stop forwarding after this many client bytes until `release` (once), then close.
    StallAfter(u64),
}

pub struct Relay {
    pub addr: SocketAddr,
    /// Bytes jcdiag sent through the relay, over all connections.
    pub sent: Arc<AtomicU64>,
    /// Set once the fault happened.
    pub tripped: Arc<AtomicBool>,
    release: Arc<Notify>,
}

impl Relay {
    pub async fn start(target: SocketAddr, fault: Fault) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            sent: Arc::new(AtomicU64::new(0)),
            tripped: Arc::new(AtomicBool::new(false)),
            release: Arc::new(Notify::new()),
        };
        let (sent, tripped, release) = (
            relay.sent.clone(),
            relay.tripped.clone(),
            relay.release.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(pipe(
                    client,
                    server,
                    fault,
                    sent.clone(),
                    tripped.clone(),
                    release.clone(),
                ));
            }
        });
        relay
    }

    /// `https://127.0.0.1:PORT` of the relay.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Ends a stall: the stalled connection is closed.
    pub fn release(&self) {
        self.release.notify_waiters();
        self.release.notify_one();
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    fault: Fault,
    sent: Arc<AtomicU64>,
    tripped: Arc<AtomicBool>,
    release: Arc<Notify>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let limit = match fault {
            Fault::CutAfter(at) | Fault::StallAfter(at) if !tripped.load(Ordering::SeqCst) => {
                Some(at)
            }
            _ => None,
        };
        let before = sent.load(Ordering::SeqCst);
        if let Some(at) = limit.filter(|at| before + n as u64 >= *at) {
            let keep = (at - before) as usize;
            let _ = server_write.write_all(&buffer[..keep]).await;
            sent.fetch_add(keep as u64, Ordering::SeqCst);
            tripped.store(true, Ordering::SeqCst);
            if let Fault::StallAfter(_) = fault {
                release.notified().await;
            }
            break;
        }
        if server_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        sent.fetch_add(n as u64, Ordering::SeqCst);
    }
    back.abort();
}
