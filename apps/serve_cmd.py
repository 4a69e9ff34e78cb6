"""``zoo serve``: predictions of a trained model over HTTP (JSON).

Only click is imported at module level; numpy, the engine and ``apps.serving`` are imported when
the command runs, so ``zoo serve --help`` stays fast.
"""
from __future__ import annotations

import click


@click.command("serve")
@click.argument("model_spec", metavar="MODEL")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; there is no authentication).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--weights", default=None, help="Registry models: the weights tag (must be cached).")
@click.option("--max-batch", default=32, show_default=True, type=click.IntRange(1, 4096),
              help="Most items (images, texts, series) per model call, gathered across concurrent requests.")
@click.option("--batch-timeout-ms", default=5.0, show_default=True, type=click.FloatRange(0, 10000),
              help="How long the first item of a batch waits for others.")
@click.option("--max-request-bytes", default=10 * 1024 * 1024, show_default=True, type=click.IntRange(1),
              help="Larger request bodies are refused (413) unread.")
@click.option("--max-items", default=256, show_default=True, type=click.IntRange(1),
              help="Most items in one request (400 beyond).")
@click.option("--max-image-pixels", default=25_000_000, show_default=True, type=click.IntRange(1),
              help="Most pixels one image may decode to (JPEGs are decoded scaled down first); 413 beyond.")
@click.option("--max-request-pixels", default=100_000_000, show_default=True, type=click.IntRange(1),
              help="Most pixels all images of one request may decode to; 413 beyond.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a request's line and headers may take (408 beyond), however slowly they trickle.")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a request's body may take (408 beyond).")
@click.option("--max-connections", default=256, show_default=True, type=click.IntRange(1),
              help="Connections served at once (one thread each); more are answered 503 at once.")
@click.option("--device", default="cpu", show_default=True, help="cpu, gpu or gpu:N.")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One stderr line per request.")
def serve(model_spec, host, port, weights, max_batch, batch_timeout_ms, max_request_bytes, max_items,
          max_image_pixels, max_request_pixels, header_timeout, body_timeout, max_connections, device, access_log):
    """Serve MODEL's predictions over HTTP: a model.h5 (or run folder) from `zoo image train`,
    `zoo text train` or `zoo forecast train`, another saved single-input model, or a registry
    classifier NAME[.TAG] whose weights are cached.

    There is no TLS and no authentication: on any network you do not trust, put it behind a
    reverse proxy (nginx, Caddy) that terminates TLS and checks who may call it.

    \b
    GET  /health     {"status": "ok"}
    GET  /metadata   model name, kind, labels, input and output spec, batching limits
    POST /predict    {"images": [base64 files]} or {"inputs": [arrays]}   (image models)
                     {"texts": ["..."]}                                    (text models)
                     {"series": [[history values], ...]}                  (forecasters)
                     classifiers: top-k labels ("top": 5 or ?top=5); forecasters: horizon values
    \b
    curl -s localhost:8000/predict -d '{"texts": ["free prize, call now"]}'
    """
    import signal
    import threading

    from apps.serving import ModelServer, ServeError, load_handler
    from core import backend

    try:
        backend.set_default_device(device)
    except (RuntimeError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    try:
        handler = load_handler(model_spec, weights)
    except ServeError as e:
        raise click.ClickException(str(e)) from None
    try:
        server = ModelServer(handler, host, port, max_batch=max_batch, batch_timeout_ms=batch_timeout_ms,
                             max_request_bytes=max_request_bytes, max_items=max_items, access_log=access_log,
                             max_image_pixels=max_image_pixels, max_request_pixels=max_request_pixels,
                             header_timeout=header_timeout, body_timeout=body_timeout,
                             max_connections=max_connections)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    click.echo(f"serving {handler.name} ({handler.kind}) on {server.url}  (POST {server.url}/predict, "
               f"GET /metadata, GET /health; Ctrl-C to stop)")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        click.echo("shutting down: answering the requests in flight", err=True)
        server.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        stats = server.batcher.stats
        click.echo(f"stopped after {stats['requests']} predict requests ({stats['items']} items, mean batch "
                   f"{server.batcher.mean_batch_size():.1f})", err=True)
