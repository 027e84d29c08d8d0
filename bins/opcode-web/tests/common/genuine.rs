//! The genuine Claude Code CLI (pinned in `crates/opcode-testkit/claude-cli`, installed by `cargo xtask
//! test`) behind a test server, offline against the project's mock of the Messages API, with a private HOME.

use std::path::PathBuf;

use opcode_sessions::claude_cli::PermissionPolicy;
use opcode_sessions::RegistryConfig;
use opcode_testkit::mock_api::MockApi;

use super::TestServer;

/// The genuine CLI. Locally a missing CLI skips the test, loudly; under CI (`CI=true`) it fails.
pub fn real_claude() -> Option<PathBuf> {
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/opcode-testkit/claude-cli/node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    let path = std::env::var_os("OPCODE_REAL_CLAUDE").map(PathBuf::from).unwrap_or(installed);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").is_err(),
        "the genuine Claude Code CLI is missing at {} (run cargo xtask test, which installs it)",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPING genuine-CLI test: {} not found. Run `npm ci` in crates/opcode-testkit/claude-cli \
         (cargo xtask test does) to run it. ***\n",
        path.display()
    );
    None
}

/// Makes `config`'s runs use the genuine CLI `claude` against the mock API at `mock_url`, with `home` as
/// its HOME (Claude's own files there), no auto-update, telemetry or other traffic.
pub fn use_genuine(config: &mut RegistryConfig, claude: PathBuf, mock_url: String, home: &std::path::Path) {
    config.claude_bin = claude;
    config.permissions = PermissionPolicy::ClaudeDefault;
    for (key, value) in [
        ("HOME", home.display().to_string()),
        ("ANTHROPIC_BASE_URL", mock_url),
        ("ANTHROPIC_API_KEY", "sk-test-mock".to_owned()),
        ("DISABLE_AUTOUPDATER", "1".to_owned()),
        ("DISABLE_TELEMETRY", "1".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
    ] {
        config.child_env.push((key.into(), value.into()));
    }
}

/// A server whose runs use the genuine CLI against `mock`, with a private HOME.
pub async fn server_for(
    claude: PathBuf,
    mock: &MockApi,
    adjust: impl FnOnce(&mut RegistryConfig),
) -> (TestServer, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let url = mock.url.clone();
    let server = TestServer::start_with(move |c| {
        use_genuine(c, claude, url, &home_path);
        adjust(c);
    })
    .await;
    (server, home)
}
