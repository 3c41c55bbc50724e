//! Every transcript in testapp/transcripts/ passes, run in-process by the library and by the
//! testapp binary's `simulate --script`, as CI would run them.

use std::path::{Path, PathBuf};
use std::process::Command;

use pagebot::testing::{Conversation, TestBot, TestDatabase, Transcript};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn transcripts() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("transcripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts found");
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transcript_passes() {
    for file in transcripts() {
        let transcript = Transcript::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let bot = TestBot::new(
            root().join("routing.yaml"),
            root().join("locales"),
            testapp::registry(),
        );
        let conversation = Conversation::start_bot(TestDatabase::from_env(), bot)
            .await
            .expect("testapp starts");
        if let Err(failure) = transcript.run(&conversation).await {
            panic!("{failure}");
        }
        conversation.stop().await;
    }
}

#[test]
fn the_testapp_binary_replays_them_with_simulate() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_testapp"));
    command.arg("simulate").current_dir(root());
    for file in transcripts() {
        command.arg("--script").arg(file);
    }
    let output = command
        .env_remove("RUST_LOG")
        .output()
        .expect("testapp runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches(": ok (").count(),
        transcripts().len(),
        "{stdout}"
    );
}
