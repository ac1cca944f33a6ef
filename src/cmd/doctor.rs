//! `consul-ecs doctor`: adapter over `task::doctor` (the v0.6.2 layout) and
//! `task::doctor_dataplane` (the v0.10 layout), picked by the config; prints the list as the
//! subcommand's output.

use crate::cli::DoctorArgs;
use crate::exit;
use crate::logging::output;

pub fn run(args: &DoctorArgs) -> i32 {
    let config = config::load_from_env();
    super::block_on(async {
        let report = match config {
            Ok(config::LoadedConfig::Dataplane(cfg)) => {
                task::doctor_dataplane::run(cfg, args.timeout).await
            }
            Ok(config::LoadedConfig::Agent(cfg)) => {
                let cfg = cfg.validate_for_mesh_init().map(|()| cfg);
                task::doctor::run(cfg, args.timeout).await
            }
            Err(e) => task::doctor::run(Err(e), args.timeout).await,
        };
        for check in &report.checks {
            let line = diagnose::report::render(std::slice::from_ref(check));
            output!(
                check = check.name,
                status = %check.status,
                "{}",
                line.trim_end_matches('\n')
            );
        }
        if !report.config_usable {
            exit::USAGE
        } else if report.any_failed() {
            exit::RUNTIME
        } else {
            exit::OK
        }
    })
}
