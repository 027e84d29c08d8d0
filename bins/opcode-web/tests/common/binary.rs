//! The real `opcode-web` binary as a process: started on a data dir (HOME there too) with the fake claude,
//! its URL and token read from what it prints.

use opcode_proc::{ProcessEvent, ProcessHandle, ProcessSpec, ProcessSupervisor, TokioSupervisor};

use super::{Ws, LIMIT};

/// A running `opcode-web` binary on `data` (HOME there too), with its URL and token.
pub struct Binary {
    pub process: ProcessHandle,
    pub url: String,
    pub token: String,
}

impl Binary {
    pub async fn start(data: &std::path::Path, token: Option<&str>) -> Binary {
        Self::start_with(data, token, &[]).await
    }

    pub async fn start_with(data: &std::path::Path, token: Option<&str>, extra: &[&str]) -> Binary {
        let mut spec = ProcessSpec::new(env!("CARGO_BIN_EXE_opcode-web"))
            .args(["--port", "0", "--data-dir"])
            .arg(data)
            .arg("--claude-bin")
            .arg(opcode_testkit::fake_claude())
            .env("HOME", data)
            .env_remove("OPCODE_TOKEN");
        if let Some(token) = token {
            spec = spec.args(["--token", token]);
        }
        spec = spec.args(extra.iter().copied());
        let mut process = TokioSupervisor::default().spawn(spec).await.unwrap();
        let mut url = None;
        let mut open = None;
        while open.is_none() {
            match tokio::time::timeout(LIMIT, process.next_event()).await.expect("start-up in time") {
                Some(ProcessEvent::Line { text, .. }) => {
                    if let Some(rest) = text.split("listening on ").nth(1) {
                        url = Some(rest.trim().to_owned());
                    }
                    if let Some(rest) = text.strip_prefix("open: ") {
                        open = Some(rest.trim().to_owned());
                    }
                    assert!(!text.contains("token=") || text.starts_with("open: "), "token in a log line: {text}");
                }
                Some(ProcessEvent::Exited(status)) => panic!("server exited at start-up: {status}"),
                Some(_) => {}
                None => panic!("server output ended"),
            }
        }
        let token = open.unwrap().split("?token=").nth(1).unwrap().to_owned();
        Binary { process, url: url.unwrap(), token }
    }

    pub async fn ws(&self, path: &str) -> Ws {
        let ws_url = format!("{}{path}", self.url.replace("http://", "ws://"));
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }

    /// `GET path` with the token: the status and the JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response =
            reqwest::Client::new().get(format!("{}{path}", self.url)).bearer_auth(&self.token).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// SIGTERM (SIGKILL after 10 s) and waits for the exit.
    pub async fn stop(self) -> opcode_proc::ExitStatus {
        self.process.control().cancel(std::time::Duration::from_secs(10));
        self.exited().await
    }

    /// Waits for the process to exit (after a signal) and returns its status.
    pub async fn exited(mut self) -> opcode_proc::ExitStatus {
        let mut exit = None;
        while let Some(event) = tokio::time::timeout(LIMIT, self.process.next_event()).await.expect("exit in time") {
            if let ProcessEvent::Exited(status) = event {
                exit = Some(status);
            }
        }
        exit.unwrap()
    }
}
