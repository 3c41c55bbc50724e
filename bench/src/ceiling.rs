//! The ceiling: a bare actix-web endpoint that only checks the webhook's HMAC and answers 200.
//!
//! It runs as its own process (`pagebot-bench hmac-endpoint`), with as many HTTP workers as
//! `pagebot serve`, and checks signatures with pagebot's own function: whatever pagebot's
//! ingress does beyond this is what it costs on top of the unavoidable.

use std::net::TcpListener;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use pagebot::webhook::signature;

struct Secret(Vec<u8>);

async fn receive(
    secret: web::Data<Secret>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = request
        .headers()
        .get("x-hub-signature-256")
        .map(|v| v.as_bytes());
    match signature::verify(&secret.0, &body, header, None, false) {
        Ok(()) => HttpResponse::Ok().body("EVENT_RECEIVED"),
        Err(_) => HttpResponse::Forbidden().finish(),
    }
}

/// Serves `POST /webhook` and `GET /healthz` on `port` (loopback) with `workers` actix workers
/// (default: one per core, as `pagebot serve`) until killed.
pub fn serve(port: u16, secret: String, workers: Option<u16>) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let workers = workers.map_or_else(
        || std::thread::available_parallelism().map_or(2, usize::from),
        usize::from,
    );
    let secret = web::Data::new(Secret(secret.into_bytes()));
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(secret.clone())
                .route("/webhook", web::post().to(receive))
                .route("/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(workers)
        .listen(listener)?
        .run(),
    )
}
