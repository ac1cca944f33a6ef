//! `consul-ecs doctor`: adapter over `task::doctor`; prints the list as the subcommand's
//! output.

use crate::cli::DoctorArgs;
use crate::exit;
use crate::logging::output;

pub fn run(args: &DoctorArgs) -> i32 {
    let config = config::from_env().and_then(|cfg| cfg.validate_for_mesh_init().map(|()| cfg));
    super::block_on(async {
        let report = task::doctor::run(config, args.timeout).await;
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
