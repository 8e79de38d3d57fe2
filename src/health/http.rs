//! `/health` and `/metrics` over HTTP/1.1 with axum: the tokio project's own small web
//! layer on hyper, already on the runtime buzon uses, with graceful shutdown on the
//! daemon's cancellation token. Two routes, no TLS and no authentication: bind it to
//! loopback or a monitoring network (`http.listen`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::daemon::App;

/// Serve until `shutdown`. `current` is the running configuration, replaced on reload.
pub async fn serve(
    listener: TcpListener,
    current: watch::Receiver<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(current);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// 200 with the report when healthy, 503 with it (and its reasons) when not.
async fn health(State(current): State<watch::Receiver<App>>) -> Response {
    let app = current.borrow().clone();
    let report = super::assess(&app.store, &app.config).await;
    let status = match report.healthy {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report)).into_response()
}

async fn metrics(State(current): State<watch::Receiver<App>>) -> Response {
    let app = current.borrow().clone();
    let text = app.metrics.render(&app.store, &app.config).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
