#![recursion_limit = "256"]
use app::services::accounts::{self, OwnerSetup};
use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};
use server::startup;
use server::Config;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::process::ExitCode;
use tower_sessions::ExpiredDeletion;

/// Beckon: invite people into your account and follow every invitation until it is accepted.
///
/// Configuration comes from BECKON_* environment variables (see the README).
#[derive(Parser)]
#[command(name = "beckon", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web console (the default when no command is given).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Run only the runner of durable work: email delivery and bulk jobs (`serve` runs one
    /// too). Several workers, in one or more processes, may share a database.
    Worker,
    /// Run only the bounce listener: a small SMTP server that takes the bounces of Beckon's
    /// messages at BECKON_BOUNCE_DOMAIN, on BECKON_BOUNCE_ADDR (default 0.0.0.0:25). `serve`
    /// runs one too when BECKON_BOUNCE_ADDR is set.
    Bounces,
    /// Write Brotli-compressed copies of the site's scripts, styles and wasm (`make release`
    /// runs it on target/site/pkg), for browsers that accept Brotli.
    Precompress {
        /// The folder of hashed assets.
        dir: std::path::PathBuf,
    },
    /// Account administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the account and its owner, as /setup does on first start. The password is
    /// read from standard input when it is not a terminal, otherwise prompted for twice.
    Create {
        /// The owner's email address (used to sign in).
        #[arg(long)]
        email: String,
        /// The owner's name.
        #[arg(long)]
        name: String,
        /// The account's name, shown in the header and in invitations.
        #[arg(long, default_value = "Beckon")]
        account_name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    server::without_transparent_huge_pages();
    let cli = Cli::parse();
    if let Some(Command::Precompress { dir }) = &cli.command {
        return precompress(dir);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("beckon: {error}");
            return ExitCode::from(2);
        }
    };
    server::ops::init_logging(&config.log_filter, config.log_json);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Worker => worker(config).await,
        Command::Bounces => bounces(config).await,
        Command::Precompress { .. } => unreachable!("handled before the configuration is read"),
        Command::Admin { command: AdminCommand::Create { email, name, account_name } } => create_admin(config, email, name, account_name).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("beckon: {message}");
            ExitCode::FAILURE
        }
    }
}

fn precompress(dir: &std::path::Path) -> ExitCode {
    match server::assets::precompress(dir) {
        Ok(files) => {
            for file in files {
                println!("{}: {} bytes, {} with Brotli", file.path.display(), file.bytes, file.brotli_bytes);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("beckon: cannot precompress {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    startup::check_site(&config)?;
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let config = config.bound_to(listener.local_addr().map_err(|e| e.to_string())?);
    tracing::info!("{}", config.summary());
    let (clock, test_clock) = startup::serving_clock(&config);
    let application = startup::build_with_test_clock(&config, clock, test_clock).await.map_err(|e| e.to_string())?;
    let deletion = tokio::spawn(application.session_store.clone().continuously_delete_expired(tokio::time::Duration::from_secs(600)));
    let housekeeping = application.spawn_housekeeping();
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let delivery = config.serve_runs_worker.then(|| {
        application.spawn_runner(async {
            let _ = worker_stopped.await;
        })
    });
    // Without TCP_NODELAY the streamed pages wait on delayed ACKs (about 40 ms at p99).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let operations = match config.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} (BECKON_METRICS_ADDR): {e}"))?;
            println!("Health and metrics on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
            let router = server::router::operations(application.state.clone());
            Some(tokio::spawn(async move { axum::serve(listener, router).await }))
        }
        None => None,
    };
    let bounce_listener = match (&config.bounce, config.bounce_addr) {
        (Some(settings), Some(addr)) => {
            let listener = bind_bounces(addr).await?;
            Some(tokio::spawn(server::bounces::serve(listener, settings.clone(), application.state.clone(), std::future::pending())))
        }
        _ => None,
    };
    println!("Beckon is listening on http://{} (public URL {})", config.addr, config.public_url);
    axum::serve(listener, application.router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    deletion.abort();
    housekeeping.abort();
    if let Some(operations) = operations {
        operations.abort();
    }
    if let Some(bounce_listener) = bounce_listener {
        bounce_listener.abort();
    }
    let _ = stop_worker.send(());
    if let Some(delivery) = delivery {
        let _ = delivery.await;
    }
    Ok(())
}

async fn worker(config: Config) -> Result<(), String> {
    tracing::info!("{}", config.summary());
    let application = startup::build(&config, startup::system_clock()).await.map_err(|e| e.to_string())?;
    println!("Beckon's worker (email delivery and bulk jobs) is running ({}).", application.transport.describe());
    application.spawn_runner(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn bind_bounces(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} (BECKON_BOUNCE_ADDR): {e}"))?;
    println!("Bounces received on smtp://{}", listener.local_addr().map_err(|e| e.to_string())?);
    Ok(listener)
}

async fn bounces(config: Config) -> Result<(), String> {
    let settings = config.bounce.clone().ok_or("set BECKON_BOUNCE_DOMAIN: the listener takes bounces for that domain only")?;
    let addr = config.bounce_addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 25)));
    tracing::info!("{}", config.summary());
    let application = startup::build(&config, startup::system_clock()).await.map_err(|e| e.to_string())?;
    let listener = bind_bounces(addr).await?;
    server::bounces::serve(listener, settings, application.state.clone(), shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

async fn migrate(config: Config) -> Result<(), String> {
    startup::open_database(&config).await.map_err(|e| e.to_string())?;
    println!("The database is up to date.");
    Ok(())
}

fn read_password() -> Result<(String, String), String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Password again: ").map_err(|e| e.to_string())?;
        Ok((first, second))
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        Ok((line.clone(), line))
    }
}

async fn create_admin(config: Config, email: String, name: String, account_name: String) -> Result<(), String> {
    let application = startup::build(&config, startup::system_clock()).await.map_err(|e| e.to_string())?;
    let (password, password_confirmation) = read_password()?;
    let owner = accounts::create_owner(&application.state, OwnerSetup { account_name, owner_name: name, email, password, password_confirmation })
        .await
        .map_err(|e| e.to_string())?;
    println!("Created the account and its owner {}. Sign in at {}/signin", owner.email, config.public_url);
    Ok(())
}
