//! Without a daemon, connecting fails with an error that says where it looked.
//! (Its own test binary: it changes `DOCKER_HOST` for the whole process.)

use peerflow_runner::{Engine, RunnerError};

#[test]
fn connect_without_a_daemon_says_so() {
    let socket = "unix:///nonexistent/peerflow-docker.sock";
    // SAFETY: this binary's only test sets the variable before any other thread exists.
    unsafe { std::env::set_var("DOCKER_HOST", socket) };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(Engine::connect()).unwrap_err();
    assert!(matches!(err, RunnerError::NoDaemon { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(socket), "{message}");
    assert!(message.contains("start dockerd"), "{message}");
}
