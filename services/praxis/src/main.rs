//! `praxis`: the server and its administrative commands.

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::PracticeId;
use domain::practice::{Country, Language};
use platform::config::{Environment, Settings};
use platform::db::Db;
use praxis::{Application, Components, demo};

#[derive(Parser)]
#[command(
    name = "praxis",
    version,
    about = "Front office backend for (para)medical practices in BE and NL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the API and runs the workers.
    Serve {
        /// Only these components, comma-separated: core, scheduling, invoicing, claims,
        /// notifications, worker. Default: all of them.
        #[arg(long)]
        only: Option<Components>,
        /// Seeds the demo practice (development only) and prints how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Creates the database if needed, the application role, and runs every migration.
    Migrate,
    /// Practice administration.
    Practice {
        #[command(subcommand)]
        command: PracticeCommand,
    },
    /// Audit trail administration.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Seeds the demo practice (development only).
    Demo,
    /// Prints the OpenAPI description.
    Openapi,
    /// Exits 0 when the server on BIND_ADDR answers /readyz (for container health checks).
    Healthcheck,
    /// Prints the current TOTP code of a base32 secret (for trying the API by hand).
    TotpCode {
        /// The base32 secret.
        #[arg(long)]
        secret: String,
    },
}

#[derive(Subcommand)]
enum PracticeCommand {
    /// Creates a practice and its first administrator; prints a one-time setup token.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// BE or NL.
        #[arg(long, value_parser = parse_country)]
        country: Country,
        /// IANA time zone.
        #[arg(long, default_value = "Europe/Brussels")]
        time_zone: String,
        /// nl, fr, en or de.
        #[arg(long, default_value = "nl", value_parser = parse_language)]
        language: Language,
        /// BE enterprise number or NL KvK number.
        #[arg(long)]
        registration_number: Option<String>,
        /// The administrator's e-mail address.
        #[arg(long)]
        admin_email: String,
        /// The administrator's display name.
        #[arg(long)]
        admin_name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recomputes every practice's hash chain and reports the first broken link.
    Verify {
        /// Only this practice.
        #[arg(long)]
        practice: Option<PracticeId>,
    },
    /// Seals unsealed events into the chains now.
    Seal,
}

fn parse_country(s: &str) -> Result<Country, String> {
    Country::parse(&s.to_uppercase()).ok_or_else(|| "BE or NL".to_owned())
}

fn parse_language(s: &str) -> Result<Language, String> {
    Language::parse(&s.to_lowercase()).ok_or_else(|| "nl, fr, en or de".to_owned())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    platform::telemetry::init(settings.server.log_format);
    if let Err(e) = run(cli, settings).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    if settings.database.auto_migrate {
        platform::db::migrate(settings).await?;
    }
    Db::connect(settings)
        .await
        .context("Failed to connect as the application role")
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { only, demo } => {
            if settings.security.uses_development_key() {
                tracing::warn!(
                    "MASTER_KEY is not set: using the development key (refused when PRAXIS_ENV=production)"
                );
            }
            if demo && settings.environment == Environment::Production {
                anyhow::bail!("--demo is refused when PRAXIS_ENV=production");
            }
            let app = Application::build(settings.clone(), only.unwrap_or(Components::ALL)).await?;
            let base = format!("http://{}:{}", settings.server.bind_addr.ip(), app.port());
            if demo {
                let info = demo::seed(app.state()).await?;
                print_demo(&base, &info);
            }
            println!(
                "praxis listening on {base}  (API docs {base}/docs, OpenAPI {base}/openapi.json, health {base}/healthz)"
            );
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            platform::db::migrate(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Practice {
            command:
                PracticeCommand::Create {
                    name,
                    country,
                    time_zone,
                    language,
                    registration_number,
                    admin_email,
                    admin_name,
                },
        } => {
            let db = connect(&settings).await?;
            let state = platform::AppState::new(settings, db);
            let created = praxis_core::practices::create(
                &state,
                praxis_core::practices::NewPractice {
                    name,
                    country,
                    time_zone,
                    default_language: language,
                    registration_number,
                    admin: praxis_core::practices::NewAdmin {
                        email: admin_email,
                        display_name: admin_name,
                    },
                },
            )
            .await
            .context("creating the practice")?;
            println!("practice_id:            {}", created.practice_id);
            println!("admin_staff_id:         {}", created.admin_staff_id);
            println!("setup_token (once):     {}", created.setup_token);
            println!("setup_token_expires_at: {}", created.setup_token_expires_at);
            println!("The administrator signs in with POST /v1/auth/setup, then enrols TOTP.");
            Ok(())
        }
        Command::Audit { command } => {
            let db = connect(&settings).await?;
            match command {
                AuditCommand::Seal => {
                    let n = platform::audit::seal_all(&db).await?;
                    println!("sealed {n} events");
                    Ok(())
                }
                AuditCommand::Verify { practice } => {
                    let practices = match practice {
                        Some(p) => vec![p],
                        None => db.practice_directory().await?,
                    };
                    let mut broken = 0;
                    for p in practices {
                        let r = platform::audit::verify_practice(&db, p).await?;
                        match &r.first_broken {
                            None => println!(
                                "practice {p}: ok, {} links, {} unsealed, head {}",
                                r.checked,
                                r.unsealed,
                                r.head.as_deref().unwrap_or("-")
                            ),
                            Some(b) => {
                                broken += 1;
                                println!(
                                    "practice {p}: BROKEN at seq {} (audit_id {}): {}; {} links verified before it",
                                    b.seq, b.audit_id, b.problem, r.checked
                                );
                            }
                        }
                    }
                    if broken > 0 {
                        anyhow::bail!("{broken} practice chain(s) broken");
                    }
                    Ok(())
                }
            }
        }
        Command::Demo => {
            if settings.environment == Environment::Production {
                anyhow::bail!("the demo practice is refused when PRAXIS_ENV=production");
            }
            let db = connect(&settings).await?;
            let base = settings.server.public_url.clone();
            let state = platform::AppState::new(settings, db);
            let info = demo::seed(&state).await?;
            print_demo(&base, &info);
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings).await,
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&praxis::openapi())?);
            Ok(())
        }
        Command::TotpCode { secret } => {
            let bytes = totp_secret(&secret)?;
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            println!(
                "{}",
                platform::auth::totp::code_at_step(&bytes, now / platform::auth::totp::STEP_SECS)
            );
            Ok(())
        }
    }
}

fn totp_secret(base32: &str) -> anyhow::Result<Vec<u8>> {
    platform::auth::totp::decode_base32(base32)
        .ok_or_else(|| anyhow::anyhow!("--secret is not base32"))
}

fn print_demo(base: &str, info: &demo::DemoInfo) {
    let secret = demo::totp_secret_base32();
    println!();
    println!(
        "Demo practice {} ({})",
        info.practice_id,
        if info.created {
            "created"
        } else {
            "already there"
        }
    );
    println!("  password for every account: {}", demo::DEMO_PASSWORD);
    println!("  TOTP secret for every account (add it to an authenticator app): {secret}");
    println!("  current code: cargo run -q -p praxis -- totp-code --secret {secret}");
    for (role, email) in &info.accounts {
        println!("  {:<15} {email}", role.as_str());
    }
    println!("  sign in:");
    println!(
        "    curl -s {base}/v1/auth/login -H 'content-type: application/json' -d '{{\"practice_id\":\"{}\",\"email\":\"{}\",\"password\":\"{}\"}}'",
        info.practice_id,
        info.accounts[0].1,
        demo::DEMO_PASSWORD
    );
    println!(
        "    curl -s {base}/v1/auth/totp/verify -H 'authorization: Bearer <token>' -H 'content-type: application/json' -d '{{\"code\":\"<code>\"}}'"
    );
    println!();
}

/// A plain HTTP/1.0 GET of /readyz on the local port: no HTTP client needed in the image.
async fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addr = settings.server.bind_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(std::time::Duration::from_secs(3), exchange)
        .await
        .context("no answer from the server within 3 s")??;
    if reply.starts_with(b"HTTP/1.0 200") || reply.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        anyhow::bail!("/readyz did not answer 200")
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
