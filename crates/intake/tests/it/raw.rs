//! A hand-driven HTTP/1.1 connection over TLS, for the hostile clients reqwest cannot be
//! (a body sent a byte at a time, a body that stops, a connection that never sends a request).

use std::sync::Arc;
use std::time::Duration;

use jcdiag_testkit::{Intake, Reply, assert_documented};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub struct Raw {
    stream: TlsStream<TcpStream>,
    read: Vec<u8>,
}

impl Raw {
    /// Connects and finishes the TLS handshake; sends nothing else.
    pub async fn connect(intake: &Intake) -> Raw {
        let tcp = TcpStream::connect(intake.addr).await.unwrap();
        let connector = TlsConnector::from(Arc::new(intake.certs.client_config()));
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let stream = connector.connect(name, tcp).await.unwrap();
        Raw {
            stream,
            read: Vec::new(),
        }
    }

    /// Sends bytes; false once the server has closed the connection.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Sends a PATCH's head (no body yet).
    pub async fn patch_head(
        &mut self,
        token: &str,
        upload_url: &str,
        offset: usize,
        length: usize,
    ) {
        let path = &upload_url[upload_url.find("/v1/").unwrap()..];
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\nContent-Length: {length}\r\n\r\n"
        );
        assert!(self.send(head.as_bytes()).await);
    }

    /// The answer, if one arrives within `within`: read whole, checked against the OpenAPI
    /// document as `method template`.
    pub async fn reply(
        &mut self,
        within: Duration,
        method: Method,
        template: &str,
    ) -> Option<Reply> {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(reply) = self.parse() {
                assert_documented(&method, template, &reply);
                return Some(reply);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return self.parse(),
                Ok(Ok(n)) => self.read.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// True if the server closes the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    fn parse(&self) -> Option<Reply> {
        let end = self.read.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.read[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let mut headers = HeaderMap::new();
        for line in lines {
            let (name, value) = line.split_once(':')?;
            headers.append(
                HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
                HeaderValue::from_str(value.trim()).ok()?,
            );
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = self.read.get(end + 4..end + 4 + length)?;
        Some(Reply {
            status,
            headers,
            body: serde_json::from_slice(body).unwrap_or_default(),
        })
    }
}

/// Chunk files (PATCH bodies being received) in the intake's `uploads/`.
pub fn chunk_files(intake: &Intake) -> usize {
    intake
        .files_in("uploads")
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "chunk"))
        .count()
}
