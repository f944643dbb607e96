//! HTTP/1.1 transport for the demo API (hyper), bound to 127.0.0.1, with a
//! connection cap, a header-read timeout and a request-body cap.

use super::api::{ApiRequest, DemoApi};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Most connections served at once; more wait in the accept backlog.
const MAX_CONNECTIONS: usize = 4096;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// Why a request could not be turned into an answer.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("request held past the hang limit; dropping the connection")]
    Hung,
}

/// Accepts connections until `shutdown` turns true, then drops them all.
pub async fn run(listener: TcpListener, api: Arc<DemoApi>, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("demo API: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let api = api.clone();
        conns.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| handle(api.clone(), req));
            let result = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = result {
                tracing::debug!("demo API: connection from {peer} ended: {e}");
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn handle(
    api: Arc<DemoApi>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ServeError> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(plain(413, "request body too large (limit 64 KiB)"));
        }
    };
    let accept = parts
        .headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let request = ApiRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        accept,
        body: &body,
    };
    let Some(answer) = api.serve(request).await else {
        return Err(ServeError::Hung);
    };
    let mut builder = Response::builder()
        .status(answer.status)
        .header(hyper::header::CONTENT_TYPE, answer.content_type);
    for (name, value) in &answer.headers {
        builder = builder.header(*name, value.as_str());
    }
    Ok(builder
        .body(Full::new(answer.body))
        .unwrap_or_else(|_| plain(500, "could not build the response")))
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// Binds the demo API's listener on 127.0.0.1 (`port` 0 picks a free port).
pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
