//! The command line as a user meets it: help, version, Go-style flags, exit codes, net-dial.

mod util;

use std::net::TcpListener;

use util::TestCommand;

#[test]
fn version_prints_the_crate_version_and_the_git_commit() {
    // `consul-ecs v<version> (<sha>)`, as upstream prints it. The sha is the commit the binary
    // was built from (others may have committed since), so check that it is one of ours.
    let run = TestCommand::new(["version"]).run();
    run.expect_code(0);
    let stdout = run.stdout();
    let line = stdout.trim_end_matches('\n');
    let prefix = format!("consul-ecs v{} (", env!("CARGO_PKG_VERSION"));
    let sha = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("version line {line:?} is not `{prefix}<sha>)`"));
    let in_git = std::process::Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !in_git {
        assert_eq!(sha, "unknown", "built outside git: {line:?}");
        return;
    }
    assert!(
        sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "not a short git sha: {line:?}"
    );
    let known = std::process::Command::new("git")
        .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run git");
    assert!(known.success(), "{sha} is not a commit of this repository");
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        "version",
        "validate-config",
        "migrate-config",
        "net-dial",
        "mesh-init",
        "health-sync",
        "envoy-entrypoint",
        "app-entrypoint",
    ] {
        TestCommand::new([sub, "--help"])
            .run()
            .expect_code(0)
            .expect_stdout_contains("Example");
    }
}

#[test]
fn unknown_subcommand_and_bad_flag_values_are_usage_errors() {
    TestCommand::new(["no-such-command"]).run().expect_code(1);
    TestCommand::new(["-log-level", "LOUD", "version"])
        .run()
        .expect_code(1)
        .expect_stderr_contains("LOUD");
}

#[test]
fn go_style_single_dash_flags_work_like_double_dash_ones() {
    for args in [
        vec!["-log-level", "DEBUG", "version"],
        vec!["-log-level=debug", "version"],
        vec!["--log-level", "WARN", "-log-format", "json", "version"],
    ] {
        TestCommand::new(args).run().expect_code(0);
    }
}

#[test]
fn a_repeated_flag_overrides_the_earlier_one_as_in_go() {
    // The later -log-format decides how net-dial's error line looks, in either order.
    let is_json = |stderr: &str| {
        !stderr.trim().is_empty()
            && stderr
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    };
    let run = TestCommand::new([
        "-log-format",
        "text",
        "-log-format",
        "json",
        "net-dial",
        "x",
    ])
    .run();
    run.expect_code(1);
    assert!(is_json(&run.stderr()), "json must win:\n{run}");
    let run = TestCommand::new([
        "-log-format",
        "json",
        "-log-format",
        "text",
        "net-dial",
        "x",
    ])
    .run();
    run.expect_code(1);
    assert!(!is_json(&run.stderr()), "text must win:\n{run}");
    assert!(run.stderr().contains("is not HOST:PORT"), "{run}");
}

#[test]
fn net_dial_exits_0_when_a_listener_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    TestCommand::new(["net-dial", &addr]).run().expect_code(0);
}

#[test]
fn net_dial_exits_2_when_nothing_listens() {
    // Bind then drop: the port is free, so the connection is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    TestCommand::new(["net-dial", &format!("127.0.0.1:{port}")])
        .run()
        .expect_code(2)
        .expect_stderr_contains("127.0.0.1");
}

#[test]
fn net_dial_gives_up_at_its_timeout_instead_of_hanging() {
    // A loopback listener whose accept queue is full: Linux drops further SYNs, so a new
    // connection neither succeeds nor fails — exactly the hang the timeout must bound.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let _fill: Vec<_> = (0..4)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)).ok()
        })
        .collect();
    // Wall clock (a child process): the 500 ms timeout with room for a busy machine.
    let started = std::time::Instant::now();
    let run = TestCommand::new(["net-dial", "-timeout", "500ms", &addr.to_string()]).run();
    run.expect_code(2).expect_stderr_contains("timed out");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}\n{run}",
        started.elapsed()
    );
}

#[test]
fn net_dial_argument_errors_exit_1() {
    TestCommand::new(["net-dial"]).run().expect_code(1);
    TestCommand::new(["net-dial", "a:1", "b:2"])
        .run()
        .expect_code(1);
    TestCommand::new(["net-dial", "no-port"])
        .run()
        .expect_code(1);
}

#[test]
fn net_dial_takes_the_timeout_before_or_after_the_address_and_names_it_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    for args in [
        vec!["net-dial", &target, "-timeout", "1s"],
        vec!["net-dial", &target, "--timeout=1s"],
        vec!["net-dial", "-timeout", "1s", &target],
    ] {
        let run = TestCommand::new(args).run();
        run.expect_code(2);
        assert_eq!(
            run.stderr().matches(&target).count(),
            1,
            "the address once:\n{run}"
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    TestCommand::new(["net-dial", &open, "-timeout", "1s"])
        .run()
        .expect_code(0);
}

/// A pipe whose reading end is closed: every write to the other end fails with EPIPE (the
/// binary ignores SIGPIPE, as every Rust program does).
fn broken_pipe() -> std::process::Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    std::process::Stdio::from(write)
}

#[test]
fn a_broken_stdout_or_stderr_never_panics() {
    let config = r#"{"bootstrapDir":"/c"}"#;
    // (arguments, exit code): the code is the subcommand's own, not a panic's 101.
    let cases: [(&[&str], i32); 5] = [
        (&["version"], 0),
        (&["validate-config"], 0),
        // No consulHTTPAddr: the servers' address needs a decision.
        (&["migrate-config"], 2),
        (&["-log-format", "json", "validate-config"], 0),
        // No task metadata: doctor lists failures and exits 2.
        (&["doctor", "-timeout", "1s"], 2),
    ];
    for (args, code) in cases {
        for broken in ["stdout", "stderr"] {
            let mut command = TestCommand::new(args.iter().copied())
                .env("CONSUL_ECS_CONFIG_JSON", config)
                .command();
            let command = if broken == "stdout" {
                command
                    .stdout(broken_pipe())
                    .stderr(std::process::Stdio::piped())
            } else {
                command
                    .stdout(std::process::Stdio::piped())
                    .stderr(broken_pipe())
            };
            let out = command.output().expect("run consul-ecs");
            assert_eq!(
                out.status.code(),
                Some(code),
                "{args:?} with a broken {broken}: {out:?}"
            );
        }
    }
}

#[test]
fn validate_config_output_follows_the_log_format() {
    let run = TestCommand::new(["-log-format", "json", "validate-config"])
        .env("CONSUL_ECS_CONFIG_JSON", r#"{"service":{"port":"x"}}"#)
        .run();
    run.expect_code(1);
    let stdout = run.stdout();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l:?}\n{run}")))
        .collect();
    assert_eq!(lines.len(), 1, "{run}");
    let message = lines[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("CONSUL_ECS_CONFIG_JSON: ") && message.contains("service.port"),
        "{run}"
    );
    assert_eq!(lines[0]["span"]["subcommand"], "validate-config", "{run}");
    // In text the line is the message alone, as before.
    TestCommand::new(["validate-config"])
        .env("CONSUL_ECS_CONFIG_JSON", r#"{"bootstrapDir":"/c"}"#)
        .run()
        .expect_code(0)
        .expect_stdout_contains("OK\n");
}
