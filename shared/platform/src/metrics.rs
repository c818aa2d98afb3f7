//! Prometheus metrics through the `metrics` facade. One recorder per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once and returns its handle.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed (e.g. by an embedding program); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
