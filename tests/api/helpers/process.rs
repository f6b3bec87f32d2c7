//! The real `wxauth` binary as a child process: run to completion, or
//! serving, with everything it logs collected.

use super::{APPID, FIRST_KID, SECRET};
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;
use wxauth::keyring::{KeyAlg, write_new_key};

/// The `wxauth` binary as a child process, with its stderr collected.
pub struct Process {
    child: std::process::Child,
    output: Arc<std::sync::Mutex<String>>,
    lines: std::sync::mpsc::Receiver<String>,
}

/// How long a child may take to end on its own before the test kills it and
/// fails: generous (a debug build on a busy machine starts in well under a
/// second), it only turns a binary that serves where it must refuse into a
/// failure instead of a hung `cargo test`.
pub const EXIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `wxauth args` in `dir` with exactly `env` (plus PATH), to completion
/// within `EXIT_LIMIT`; returns (exit code, stdout, stderr). A `.env` in
/// `dir` is read, as in use.
pub fn run_wxauth(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    use std::io::Read as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run wxauth");
    // Each pipe is read to its end on its own thread; both ends mean the
    // child is gone (or closed them), so no wait below can block for long.
    let (sender, done) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_sender = sender.clone();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        let _ = out_sender.send((1, text));
    });
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        let _ = sender.send((2, text));
    });
    let deadline = std::time::Instant::now() + EXIT_LIMIT;
    let (mut out, mut err) = (None, None);
    while out.is_none() || err.is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match done.recv_timeout(left) {
            Ok((1, text)) => out = Some(text),
            Ok((_, text)) => err = Some(text),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("wxauth {args:?} was still running after {EXIT_LIMIT:?}: killed");
            }
        }
    }
    let status = child.wait().expect("wait");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.unwrap_or_default()).into_owned(),
        String::from_utf8_lossy(&err.unwrap_or_default()).into_owned(),
    )
}

/// The real binary in production mode against the fake WeChat at
/// `wechat_uri`, in a fresh folder holding one key (`FIRST_KID`), with
/// `extra` settings; the folder lives as long as the returned TempDir.
pub fn serve_production_binary(wechat_uri: &str, extra: &[(&str, &str)]) -> (TempDir, Process) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_new_key(&dir.path().join("keys"), FIRST_KID, KeyAlg::Eddsa).expect("keygen");
    let mut env = vec![
        ("WXAUTH_BIND", "127.0.0.1:0"),
        ("WECHAT_APPID", APPID),
        ("WECHAT_SECRET", SECRET),
        ("WECHAT_API_BASE", wechat_uri),
    ];
    env.extend_from_slice(extra);
    let process = Process::serve(dir.path(), &env);
    (dir, process)
}

impl Process {
    /// Starts `wxauth serve` in `dir` with exactly `env` (plus PATH).
    pub fn serve(dir: &Path, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wxauth"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn wxauth");
        let stderr = child.stderr.take().expect("stderr");
        let output = Arc::new(std::sync::Mutex::new(String::new()));
        let (sender, lines) = std::sync::mpsc::channel();
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = sender.send(line);
            }
        });
        Self {
            child,
            output,
            lines,
        }
    }

    /// The base URL, from the "listening on" line; None if the process ends
    /// first. The bound is generous: it only catches a hung start.
    pub fn wait_until_listening(&self) -> Option<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    }

    /// Stops the process (SIGKILL is enough: nothing is flushed late, every
    /// log line is written as it happens) and returns all it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader thread ends at EOF; give it the pipe's last lines.
        while self
            .lines
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_ok()
        {}
        self.output.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit on its own; its code and all it logged.
    /// Bounded by `EXIT_LIMIT`: a process still running then (one that
    /// serves where it must refuse) is killed and the test fails with its log.
    pub fn wait(mut self) -> (i32, String) {
        // The reader thread ends, and the channel disconnects, when the
        // child's stderr closes: at its exit.
        let deadline = std::time::Instant::now() + EXIT_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let output = self.stop();
                    panic!(
                        "wxauth was still running after {EXIT_LIMIT:?}: killed; it logged:\n{output}"
                    );
                }
            }
        }
        let status = self.child.wait().expect("wait");
        (
            status.code().unwrap_or(-1),
            self.output.lock().unwrap().clone(),
        )
    }
}
