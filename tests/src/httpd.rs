//! Small HTTP servers on loopback for tests: a redirector, a sink that counts
//! what reaches it, and a base for fake provider APIs (axum routers).

use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// An axum app served on a free loopback port until dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Serves `app` on `ip` (e.g. `127.0.0.1`, or `127.0.0.2` for a second origin).
    pub async fn start_on(ip: &str, app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer { addr, task }
    }

    pub async fn start(app: Router) -> Self {
        Self::start_on("127.0.0.1", app).await
    }

    /// `http://<addr>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server that answers every request with 200 and counts them.
pub struct Sink {
    pub server: TestServer,
    hits: Arc<AtomicU64>,
}

impl Sink {
    pub async fn start_on(ip: &str) -> Self {
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "reached"
            }
        });
        Sink {
            server: TestServer::start_on(ip, app).await,
            hits,
        }
    }

    /// Requests that reached this server.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A server answering every request with `status` and `Location: location`.
pub async fn redirector(status: u16, location: String) -> TestServer {
    let app = Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(axum::http::header::LOCATION, location)],
                "",
            )
        }
    });
    TestServer::start(app).await
}
