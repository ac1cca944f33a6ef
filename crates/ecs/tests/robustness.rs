//! Seeded mutation tests of the decoder and the ARN-derived values: whatever the endpoint
//! sends, decoding either fails with an error or yields values that hold their invariants;
//! nothing panics. (A deterministic stand-in for a fuzzer, so it runs in every `cargo test`.)

use ecs::TaskMetadata;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// Exercises every derived value and checks what each guarantees when it succeeds.
fn check_invariants(task: &TaskMetadata) {
    if let Ok(id) = task.task_id() {
        assert!(
            !id.is_empty() && !id.contains('/'),
            "task id {id:?} from {:?}",
            task.task_arn
        );
    }
    if let Ok(region) = task.region() {
        assert!(
            !region.is_empty() && !region.contains(':'),
            "region {region:?}"
        );
    }
    if let Ok(account) = task.account_id() {
        assert!(
            !account.is_empty() && !account.contains(':'),
            "account {account:?}"
        );
    }
    if let Ok(arn) = task.cluster_arn() {
        assert!(arn.starts_with("arn:"), "cluster ARN {arn:?}");
    }
    assert!(!task.node_ip().is_empty());
    let _ = task.cluster();
    let _ = task.family();
    let _ = task.applications_stopped();
    for c in &task.containers {
        let _ = (
            c.is_stopped(),
            c.is_application(),
            c.health_status(),
            c.is_healthy(),
        );
    }
}

const INSERTS: &[&[u8]] = &[
    b"null",
    b"\"\"",
    b"[]",
    b"{}",
    b"0",
    b"-1",
    b"1e999",
    b"\"\\u0000\"",
    b":",
    b"/",
    b",",
    b"\xff",
];

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..4) {
        if out.is_empty() {
            break;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..4) {
            0 => out[at] = rng.random(),
            1 => out.truncate(at),
            2 => {
                let end = (at + rng.random_range(1..32)).min(out.len());
                out.drain(at..end);
            }
            _ => {
                let insert = INSERTS[rng.random_range(0..INSERTS.len())];
                out.splice(at..at, insert.iter().copied());
            }
        }
    }
    out
}

#[test]
fn mutated_documents_never_panic_the_decoder_or_derivations() {
    let mut rng = StdRng::seed_from_u64(0x0ec5_7a5c);
    let seeds = [example("fargate_task.json"), example("ec2_task.json")];
    let mut decoded = 0;
    for i in 0..4000 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        if let Ok(task) = serde_json::from_slice::<TaskMetadata>(&input) {
            decoded += 1;
            check_invariants(&task);
        }
    }
    // Many mutations land in values the decoder tolerates; if none decoded, the mutator or
    // the decoder's tolerance is broken.
    assert!(
        decoded > 100,
        "only {decoded} of 4000 mutated documents decoded"
    );
}

#[test]
fn arbitrary_arn_strings_never_panic_and_hold_invariants() {
    let mut rng = StdRng::seed_from_u64(42);
    let alphabet: Vec<char> = "arn:aws-ecs/task/cluster0123456789abcdef:/ \u{e9}"
        .chars()
        .collect();
    for _ in 0..20_000 {
        let len = rng.random_range(0..48);
        let arn: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let cluster = if rng.random_bool(0.5) {
            String::new()
        } else {
            "c".to_string()
        };
        let task = TaskMetadata {
            task_arn: arn,
            cluster,
            ..TaskMetadata::default()
        };
        check_invariants(&task);
    }
    // And the structured shapes around the separators.
    for arn in [
        "arn:::::",
        "arn:aws:ecs:r:a:task/",
        "arn:aws:ecs:r:a:task//",
        "arn:aws:ecs:r:a:task/c/",
        "arn:aws:ecs:r:a:task/c/id/extra",
        "arn:aws:ecs:r:a:task/c:x/id",
    ] {
        check_invariants(&TaskMetadata {
            task_arn: arn.to_string(),
            ..TaskMetadata::default()
        });
    }
}
