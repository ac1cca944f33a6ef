//! The checks of the dataplane layout: one per health-sync container on the service, and
//! one for consul-dataplane's readiness on the service and on the proxy (or gateway). All
//! are catalog checks that health-sync writes; none is run by Consul.

/// `Type` of every check consul-ecs registers in this layout.
pub const CHECK_TYPE: &str = "consul-ecs-health-check";
/// Name of the check of a `healthSyncContainers` container.
pub const SYNCED_CHECK_NAME: &str = "Consul ECS health check synced";
/// Name of the check that says whether consul-dataplane is ready.
pub const DATAPLANE_CHECK_NAME: &str = "Consul dataplane readiness";
/// The container whose readiness [`dataplane_check_id`]'s check follows.
pub const DATAPLANE_CONTAINER: &str = ecs::CONSUL_DATAPLANE_CONTAINER;
/// Notes of the dataplane readiness check.
pub const DATAPLANE_CHECK_NOTES: &str =
    "consul-ecs created and updates this check to indicate consul-dataplane container's readiness";

/// ID of the check that follows `container`'s ECS health on the service `service_id`:
/// `<serviceID>-<container>`.
pub fn synced_check_id(service_id: &str, container: &str) -> String {
    format!("{service_id}-{container}")
}

/// ID of the consul-dataplane readiness check of the service, proxy or gateway
/// `service_id`: `<serviceID>-consul-dataplane`.
pub fn dataplane_check_id(service_id: &str) -> String {
    synced_check_id(service_id, DATAPLANE_CONTAINER)
}

/// `Output` of a check that is not passing yet: `Service <name> is not ready` (the name
/// of the service the check is on, the proxy's for the proxy's check).
pub fn not_ready_output(service_name: &str) -> String {
    format!("Service {service_name} is not ready")
}

/// Notes of the check of `container`.
pub(crate) fn synced_check_notes(container: &str) -> String {
    format!(
        "consul-ecs created and updates this check because the {container} container has an \
         ECS health check."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_the_service_id_and_the_container() {
        assert_eq!(synced_check_id("web-abc", "app"), "web-abc-app");
        assert_eq!(
            dataplane_check_id("web-abc-sidecar-proxy"),
            "web-abc-sidecar-proxy-consul-dataplane"
        );
        assert_eq!(not_ready_output("web"), "Service web is not ready");
    }
}
