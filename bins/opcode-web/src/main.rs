//! The `opcode-web` binary: flags → state → listener → serve until SIGINT/SIGTERM → exit 0.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use opcode_proc::TokioSupervisor;
use opcode_sessions::claude_cli::find_claude_binary;
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use opcode_web::config::{Args, LogFormat};
use opcode_web::state::AppState;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    raise_fd_limit();

    let claude_bin = match find_claude_binary(args.claude_bin.as_deref()) {
        Ok(path) => path,
        Err(err) => {
            // the server is still useful (history, UI); runs will fail with this message
            tracing::warn!("{err}");
            args.claude_bin.clone().unwrap_or_else(|| "claude".into())
        }
    };
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("opcode-web"),
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create data dir {}", data_dir.display()))?;

    let mut config = RegistryConfig::new(claude_bin.clone(), data_dir.clone());
    config.max_running = args.max_sessions.max(1);
    config.max_runs_per_minute = (args.max_runs_per_minute > 0).then_some(args.max_runs_per_minute);
    config.max_finished_in_memory = args.max_finished_in_memory;
    config.cancel_grace = args.cancel_grace();
    config.finished_ttl = std::time::Duration::from_secs(args.finished_ttl);
    config.permissions = args.permission_policy()?;
    config.permission_timeout = std::time::Duration::from_secs(args.permission_timeout);
    config.live_idle_timeout = std::time::Duration::from_secs(args.live_idle_timeout.max(1));
    config.allow_bypass_permissions = args.allow_bypass_permissions;
    config.project_roots = args
        .project_roots
        .iter()
        .map(|r| std::fs::canonicalize(r).with_context(|| format!("--project-root {} does not exist", r.display())))
        .collect::<anyhow::Result<_>>()?;
    let store = ClaudeStore::from_env();
    config.claude_store = store.clone();
    let supervisor = Arc::new(TokioSupervisor::default());
    let registry = SessionRegistry::open(config, supervisor.clone()).await?;

    // where runs go: this machine's registry, or (`--nats-url`) a cluster's workers
    let (runs, bus): (Arc<dyn opcode_sessions::Runs>, _) = match &args.nats_url {
        None => (Arc::new(registry.clone()), None),
        Some(url) => {
            // a replica: runs are the workers'; NATS must be there now (a clear error otherwise)
            let config = opcode_bus::BusConfig {
                replicas: args.stream_replicas.max(1),
                role: opcode_bus::BusRole::Replica,
                ..Default::default()
            };
            let bus = opcode_bus::Bus::connect(url, config).await?;
            let runs = opcode_cluster::ClusterRuns::open(opcode_cluster::ClusterClient::new(bus.clone())).await?;
            println!("replica of the cluster at {url}: runs start on its opcode-workers");
            if args.token.as_deref().is_none_or(str::is_empty) {
                tracing::warn!(
                    "a replica without --token has a token of its own: start every replica with the same --token"
                );
            }
            (Arc::new(runs), Some(bus))
        }
    };
    let push_config = opcode_push::PushConfig { contact: args.push_contact.clone(), ..Default::default() };
    let push = match opcode_push::PushService::open(&registry, runs.notable_events(), push_config).await {
        Ok(push) => Some(push),
        Err(err) => {
            // the server is still useful without notifications
            tracing::warn!("Web Push is off: {err}");
            None
        }
    };

    let (token, token_file) = match args.token.clone().filter(|t| !t.is_empty()) {
        Some(token) => (token, None),
        None => {
            let (file, rotate) = (data_dir.join("token"), args.rotate_token);
            let token = tokio::task::spawn_blocking({
                let file = file.clone();
                move || opcode_access::token_file::load_or_create(&file, rotate)
            })
            .await??;
            if rotate {
                println!("token rotated: the old one no longer works (paired devices stay paired)");
            }
            (token, Some(file))
        }
    };
    let mut state = AppState::open(registry, store, &token).await?;
    state.set_runs(runs);
    state.cluster = bus.clone().map(opcode_cluster::ClusterClient::new);
    state.token_file = token_file;
    if let Some(bus) = bus {
        // paired devices, revocations and pairing links hold on every replica
        state.cluster_access = Some(opcode_web::cluster_access::ClusterAccess::start(bus, state.access.clone()).await?);
    }
    state.allowed_origins = args.allowed_origins.clone().into();
    state.allowed_hosts = args.allowed_hosts.clone().into();
    state.push = push;
    if !args.no_terminal {
        let config =
            opcode_terminals::TerminalsConfig { max_terminals: args.max_terminals.max(1), ..Default::default() };
        state.terminals = Some(opcode_terminals::Terminals::new(supervisor, config));
    }
    state.max_upload_bytes = args.max_upload_mb.saturating_mul(1024 * 1024);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (cert.clone(), key.clone());
            Some(tokio::task::spawn_blocking(move || opcode_tls::server_config_from_files(&cert, &key)).await??)
        }
        _ if args.tls_local_ca => {
            let (config, ca, names) = tokio::task::spawn_blocking({
                let dir = data_dir.join("tls");
                move || local_ca_config(&dir)
            })
            .await??;
            // names in our own certificate are ours: TLS already keeps a rebinding name out
            let mut hosts = state.allowed_hosts.to_vec();
            hosts.extend(names.into_iter().filter_map(|n| match n {
                opcode_tls::HostName::Dns(dns) => Some(dns),
                opcode_tls::HostName::Ip(_) => None,
            }));
            state.allowed_hosts = hosts.into();
            state.local_ca = Some(ca);
            Some(config)
        }
        _ => None,
    };

    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{} (is the port in use? try --port)", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = url(scheme, if addr.ip().is_unspecified() { [127, 0, 0, 1].into() } else { addr.ip() }, addr.port());
    tracing::info!(claude = %claude_bin.display(), data_dir = %data_dir.display(), max_sessions = args.max_sessions, tls = tls.is_some(), "opcode-web ready");
    // before the line scripts wait for: a SIGTERM right after it must shut down cleanly
    let shutdown = opcode_proc::shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
    // stdout, not the log: the token belongs to whoever started the server, never in log files
    println!("opcode-web {} listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("open: {base}/?token={token}");
    // (URL, its address when it is one)
    let mut remote: Vec<(String, Option<std::net::IpAddr>)> = Vec::new();
    if addr.ip().is_unspecified() {
        remote.extend(
            opcode_tls::machine_names()
                .into_iter()
                .filter_map(|n| match n {
                    opcode_tls::HostName::Ip(ip) if !ip.is_loopback() && (addr.is_ipv6() || ip.is_ipv4()) => Some(ip),
                    _ => None,
                })
                .map(|ip| (url(scheme, ip, addr.port()), Some(ip))),
        );
    } else if !addr.ip().is_loopback() {
        remote.push((base.clone(), Some(addr.ip())));
    }
    remote.extend(args.allowed_hosts.iter().map(|h| (format!("{scheme}://{h}:{}", addr.port()), None)));
    if let Some(ca) = &state.local_ca {
        let trust = remote.first().map_or(&base, |(url, _)| url);
        println!(
            "local CA {} (SHA-256 {})",
            data_dir.join("tls").join(opcode_tls::CA_CERT_FILE).display(),
            ca.fingerprint
        );
        println!(
            "a phone trusts it once from {}/trust (plain http:// works for that page too)",
            trust.replace("https://", "http://")
        );
    }
    if remote.is_empty() {
        println!("a phone cannot reach {}: start with --host 0.0.0.0 to get a QR code for it", addr.ip());
    } else {
        println!("from a phone on the same network: open one of these, or point its camera at the code below it");
    }
    for (url, ip) in &remote {
        let open = format!("{url}/?token={token}");
        println!("open: {open}");
        let uncovered = ip.is_some_and(|ip| !opcode_tls::LocalCa::vouches_for(&ip.into()));
        if state.local_ca.is_some() && uncovered {
            println!("(not in the local CA's certificate, which covers private addresses and local names only: use --tls-cert for it)");
        } else if let Some(code) = opcode_web::qr::render(&open) {
            println!("{code}");
        }
    }

    match tls {
        Some(config) => opcode_web::serve_tls(listener, config, state, shutdown).await?,
        None => opcode_web::serve(listener, state, shutdown).await?,
    }
    tracing::info!("stopped");
    Ok(())
}

/// `scheme://ip:port`, with brackets around an IPv6 address.
fn url(scheme: &str, ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
        std::net::IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
    }
}

/// The local CA (made now if the data dir has none), a fresh leaf for every local name of this machine,
/// and the TLS configuration serving it. Blocking.
fn local_ca_config(
    dir: &std::path::Path,
) -> anyhow::Result<(Arc<opcode_tls::rustls::ServerConfig>, Arc<opcode_web::trust::PublicCa>, Vec<opcode_tls::HostName>)>
{
    let (ca, created) = opcode_tls::LocalCa::load_or_create(dir)?;
    if created {
        tracing::info!(dir = %dir.display(), "made a local certificate authority: phones trust it once from /trust");
    }
    let (names, skipped): (Vec<_>, Vec<_>) =
        opcode_tls::machine_names().into_iter().partition(opcode_tls::LocalCa::vouches_for);
    for name in skipped {
        tracing::info!(%name, "not in the certificate: the local CA vouches for local names and private addresses only");
    }
    let leaf = ca.issue(&names)?;
    let config = opcode_tls::server_config(&leaf.cert_pem, &leaf.key_pem, "the local CA's certificate")?;
    Ok((config, opcode_web::trust::PublicCa::of(&ca), names))
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// A thousand runs hold thousands of pipes and sockets: raise the soft fd limit to the hard one.
fn raise_fd_limit() {
    match opcode_proc::raise_open_file_limit() {
        Ok((from, to)) if from < to => tracing::info!(from, to, "raised the open-file limit (about 6 per run)"),
        Ok((limit, _)) => tracing::debug!(limit, "open-file limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open-file limit"),
    }
}
