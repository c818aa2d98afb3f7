//! The `praxis` server: every router and every worker in one process, or a subset of them
//! (`--only`) so the services can run as separate processes.

pub mod demo;
pub mod docs;
pub mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;

use anyhow::Context;
use axum::Router;
use platform::db::Db;
use platform::{AppState, Settings};
use tokio::net::TcpListener;

/// What one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Components {
    /// Practices, staff sign-in, patients, audit trail.
    pub core: bool,
    /// Scheduling routes.
    pub scheduling: bool,
    /// Invoicing routes.
    pub invoicing: bool,
    /// Claims routes.
    pub claims: bool,
    /// Notifications routes.
    pub notifications: bool,
    /// Background workers (audit sealing, job queues).
    pub worker: bool,
}

impl Components {
    /// Everything.
    pub const ALL: Components = Components {
        core: true,
        scheduling: true,
        invoicing: true,
        claims: true,
        notifications: true,
        worker: true,
    };

    /// The names `--only` takes.
    pub const NAMES: [&'static str; 6] = [
        "core",
        "scheduling",
        "invoicing",
        "claims",
        "notifications",
        "worker",
    ];
}

impl FromStr for Components {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut c = Components {
            core: false,
            scheduling: false,
            invoicing: false,
            claims: false,
            notifications: false,
            worker: false,
        };
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "core" => c.core = true,
                "scheduling" => c.scheduling = true,
                "invoicing" => c.invoicing = true,
                "claims" => c.claims = true,
                "notifications" => c.notifications = true,
                "worker" => c.worker = true,
                other => {
                    return Err(format!(
                        "unknown component '{other}'; use {}",
                        Components::NAMES.join(", ")
                    ));
                }
            }
        }
        if c == (Components {
            core: false,
            scheduling: false,
            invoicing: false,
            claims: false,
            notifications: false,
            worker: false,
        }) {
            return Err("name at least one component".to_owned());
        }
        Ok(c)
    }
}

/// The routes of the selected components, each registered once with its OpenAPI path.
fn api(components: Components) -> platform::ApiRouter {
    let mut api = platform::ApiRouter::new();
    if components.core {
        api = api.merge(praxis_core::router());
    }
    if components.scheduling {
        api = api.merge(scheduling::router());
    }
    if components.invoicing {
        api = api.merge(invoicing::router());
    }
    if components.claims {
        api = api.merge(claims::router());
    }
    if components.notifications {
        api = api.merge(notifications::router());
    }
    api
}

/// The whole API description: every service's routes, as registered, and the conventions they
/// share (`platform::openapi`).
pub fn openapi() -> serde_json::Value {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let mut doc = api(Components::ALL).into_openapi();
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("Praxis API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Front office of (para)medical practices in Belgium and the Netherlands. Errors are \
             application/problem+json with a stable `code` and, where it applies, the `field` at fault.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("pxs session token")
                .build(),
        ),
    );
    components.add_security_scheme(
        "operator_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("OPERATOR_API_KEY")
                .build(),
        ),
    );
    // The error responses every route shares, written once (platform::openapi).
    let value = serde_json::to_value(&doc).expect("the OpenAPI description serialises");
    platform::openapi::apply(value)
}

/// Builds the router of the selected components.
pub fn router(state: AppState, components: Components) -> Router {
    let api = Router::new()
        .merge(platform::http::ops_router())
        .merge(docs::router())
        .merge(Router::from(api(components)));
    let max_body = state.settings().server.max_body_bytes;
    platform::http::finish(api.with_state(state), max_body)
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    components: Components,
}

impl Application {
    /// Migrates (unless disabled), connects as the application role and binds.
    pub async fn build(settings: Settings, components: Components) -> anyhow::Result<Self> {
        if settings.database.auto_migrate {
            platform::db::migrate(&settings).await?;
        }
        let db = Db::connect(&settings)
            .await
            .context("Failed to connect as the application role (APP_DATABASE_URL)")?;
        Self::build_with_db(settings, db, components).await
    }

    /// Binds over an existing application-role pool (tests bring their own database).
    pub async fn build_with_db(
        settings: Settings,
        db: Db,
        components: Components,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.server.bind_addr)
            .await
            .with_context(|| format!("Failed to bind {} (BIND_ADDR)", settings.server.bind_addr))?;
        let metrics_listener = match settings.server.metrics_bind_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("Failed to bind {addr} (METRICS_BIND_ADDR)"))?,
            ),
            None => None,
        };
        let state = AppState::new(settings, db);
        // Provider clients that cannot work stop the start, not a patient's first payment.
        invoicing::stripe::client::install(&state)
            .context("The Stripe client could not be built (STRIPE_SECRET_KEY, STRIPE_API_BASE)")?;
        Ok(Self {
            listener,
            metrics_listener,
            state,
            components,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The port of the separate metrics listener, when `METRICS_BIND_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The shared state (tests use it to reach the database and keys).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; workers stop with it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // One signal stops both the HTTP server and the job workers (which finish their
        // in-flight jobs first).
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = self.components.worker.then(|| {
            let mut stopped = stopped.clone();
            tokio::spawn(workers::run(self.state.clone(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        });
        if let Some(listener) = self.metrics_listener {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, platform::http::metrics_only_router())
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            });
        }
        let app = router(self.state, self.components);
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
        if let Some(w) = workers {
            match w.await {
                Ok(Err(e)) => tracing::error!(error = %e, "job workers failed"),
                Err(e) => tracing::error!(error = %e, "job workers panicked"),
                Ok(Ok(())) => {}
            }
        }
        served.context("HTTP server failed")
    }
}
