//! A small real HTTP/1.1 server on loopback for network tests: fixed routes,
//! and every request's headers recorded.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a route answers: status, extra headers, body.
pub type Route = (u16, Vec<(String, String)>, Vec<u8>);

#[derive(Clone)]
pub struct Web {
    pub port: u16,
    /// (path, headers as lowercase name/value) of every request.
    pub seen: Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>,
    /// (path, body) of every request.
    pub bodies: Arc<Mutex<Vec<(String, Vec<u8>)>>>,
}

impl Web {
    /// `routes(path)` answers a path; `None` is a 404.
    pub async fn start(routes: impl Fn(&str) -> Option<Route> + Send + Sync + 'static) -> Web {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web = Web { port: listener.local_addr().unwrap().port(), seen: Arc::default(), bodies: Arc::default() };
        let (seen, bodies, routes) = (web.seen.clone(), web.bodies.clone(), Arc::new(routes));
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (seen, bodies, routes) = (seen.clone(), bodies.clone(), routes.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                        .collect();
                    // The whole body is read before the answer: closing a
                    // socket with unread data resets the connection.
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0)
                        .min(1 << 20);
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[head_end..buf.len().min(head_end + len)].to_vec();
                    seen.lock().unwrap().push((path.clone(), headers));
                    bodies.lock().unwrap().push((path.clone(), body));
                    let (status, extra, body) = routes(&path).unwrap_or((404, vec![], b"not found".to_vec()));
                    let mut out =
                        format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                    for (k, v) in extra {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                });
            }
        });
        web
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    /// The headers of the requests made to `path`.
    pub fn headers_of(&self, path: &str) -> Vec<Vec<(String, String)>> {
        self.seen.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, h)| h.clone()).collect()
    }
}

pub fn redirect(to: &str) -> Option<Route> {
    Some((302, vec![("Location".into(), to.into())], Vec::new()))
}
