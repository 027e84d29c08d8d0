//! The fixture shared by the registry's integration tests: a registry on temp dirs with the fake claude,
//! requests, and draining a subscription.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opcode_proc::{ProcessHandle, ProcessSpec, ProcessSupervisor, SpawnError, TokioSupervisor};
use opcode_proto::{ClaudeRequest, EventKind, SessionEvent, ValidRequest};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry, Subscription};

/// The real supervisor, counting spawns.
#[derive(Debug, Default)]
pub struct Counting {
    pub spawned: AtomicUsize,
    real: TokioSupervisor,
}

#[async_trait::async_trait]
impl ProcessSupervisor for Counting {
    async fn spawn(&self, spec: ProcessSpec) -> Result<ProcessHandle, SpawnError> {
        self.spawned.fetch_add(1, Ordering::SeqCst);
        self.real.spawn(spec).await
    }
}

pub struct Fixture {
    pub registry: SessionRegistry,
    pub supervisor: Arc<Counting>,
    pub project: tempfile::TempDir,
    pub _data: tempfile::TempDir,
    pub _claude: tempfile::TempDir,
    pub config: RegistryConfig,
}

pub async fn fixture(adjust: impl FnOnce(&mut RegistryConfig)) -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let mut config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
    config.claude_store = ClaudeStore::new(claude.path());
    // fake-claude writes its transcripts where the registry reads Claude's files
    config.child_env.push(("CLAUDE_CONFIG_DIR".into(), claude.path().into()));
    adjust(&mut config);
    let supervisor = Arc::new(Counting::default());
    let registry = SessionRegistry::open(config.clone(), supervisor.clone()).await.unwrap();
    Fixture { registry, supervisor, project, _data: data, _claude: claude, config }
}

impl Fixture {
    /// Shuts the registry down and opens a new one on the same data dir (a graceful restart).
    pub async fn restart(self) -> Fixture {
        let Fixture { registry, supervisor, project, _data, _claude, config } = self;
        registry.shutdown().await;
        drop(registry);
        let registry = SessionRegistry::open(config.clone(), supervisor.clone()).await.unwrap();
        Fixture { registry, supervisor, project, _data, _claude, config }
    }

    /// A live request (`live: true`).
    pub fn live_request(&self, command: &str, prompt: &str, session_id: Option<String>) -> ValidRequest {
        self.build(command, prompt, session_id, true)
    }

    /// Reads the session's events until one matches, returning everything read so far (the whole batch
    /// the match came in, so that the subscription goes on after it with no gap).
    pub async fn until(&self, sub: &mut Subscription, found: impl Fn(&EventKind) -> bool) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let batch = sub.next_batch().await.unwrap().expect("the event came before the run ended");
                let mut hit = false;
                for bytes in batch {
                    let event = SessionEvent::from_json(std::str::from_utf8(&bytes).unwrap()).unwrap();
                    hit |= found(&event.kind);
                    events.push(event);
                }
                if hit {
                    return;
                }
            }
        })
        .await
        .expect("the event came in time");
        events
    }

    pub fn request(&self, command: &str, prompt: &str, session_id: Option<String>) -> ValidRequest {
        self.build(command, prompt, session_id, false)
    }

    fn build(&self, command: &str, prompt: &str, session_id: Option<String>, live: bool) -> ValidRequest {
        ClaudeRequest {
            command_type: command.into(),
            project_path: self.project.path().display().to_string(),
            prompt: prompt.into(),
            model: None,
            session_id,
            include_partial_messages: false,
            live,
            permission_mode: None,
            images: Vec::new(),
            run_options: None,
        }
        .validate()
        .unwrap()
    }
}

pub async fn drain(mut sub: Subscription) -> Vec<SessionEvent> {
    let mut events = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(batch) = sub.next_batch().await.unwrap() {
            for bytes in batch {
                events.push(SessionEvent::from_json(std::str::from_utf8(&bytes).unwrap()).unwrap());
            }
        }
    })
    .await
    .expect("run finished in time");
    events
}

pub fn assert_well_formed(events: &[SessionEvent], session_id: &str, from: u64) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, from + i as u64, "seq contiguous");
        assert_eq!(e.session_id, session_id);
    }
    assert!(matches!(events.last().unwrap().kind, EventKind::Completion { .. }));
    assert_eq!(events.iter().filter(|e| e.kind.is_completion()).count(), 1);
}
