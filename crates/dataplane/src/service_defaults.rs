//! `service.networkResilienceConfig`: Envoy outlier detection for the service's callers,
//! written as the `PassiveHealthCheck` of the service's `service-defaults` entry
//! (`UpstreamConfig.Defaults.PassiveHealthCheck`), and only when the entry has none, so
//! that an operator's own setting always wins.
//!
//! Consul's `PassiveHealthCheck` (`api.PassiveHealthCheck`) has `Interval` (nanoseconds),
//! `MaxFailures`, `EnforcingConsecutive5xx`, `MaxEjectionPercent` and `BaseEjectionTime`;
//! `outlierDetection.consecutive5xx`, `consecutiveGatewayFailure` and
//! `enforcingConsecutiveGatewayFailure` have no field there, so they are not written.

use config::{NetworkResilienceConfig, OutlierDetection};
use consul::ServiceDefaultsEntry;
use serde_json::{json, Map, Value};

const UPSTREAM_CONFIG: &str = "UpstreamConfig";
const DEFAULTS: &str = "Defaults";
const PASSIVE_HEALTH_CHECK: &str = "PassiveHealthCheck";

/// The `PassiveHealthCheck` object for `outlier` (its unset values take the config
/// defaults: 10 s, 5 failures, 50 %).
pub fn passive_health_check(outlier: &OutlierDetection) -> Value {
    let mut check = json!({
        "Interval": outlier.interval_nanos(),
        "MaxFailures": outlier.max_failures(),
        "MaxEjectionPercent": outlier.max_ejection_percent(),
    });
    if let (Some(enforcing), Some(object)) =
        (outlier.enforcing_consecutive5xx, check.as_object_mut())
    {
        object.insert("EnforcingConsecutive5xx".into(), json!(enforcing));
    }
    check
}

/// The entry to write for `service` when `settings` asks for a passive health check and
/// the current entry (`existing`, `None` when there is none) has none yet; `None` when
/// nothing is to be written. Everything else in the entry is kept as Consul sent it.
pub fn with_passive_health_check(
    existing: Option<ServiceDefaultsEntry>,
    service: &str,
    namespace: Option<&str>,
    partition: Option<&str>,
    settings: Option<&NetworkResilienceConfig>,
) -> Option<ServiceDefaultsEntry> {
    let settings = settings.filter(|s| s.enabled)?;
    let mut entry = existing.unwrap_or_else(|| ServiceDefaultsEntry {
        namespace: namespace.unwrap_or_default().to_owned(),
        partition: partition.unwrap_or_default().to_owned(),
        ..ServiceDefaultsEntry::new(service)
    });
    let defaults = object_at(object_at(&mut entry.fields, UPSTREAM_CONFIG), DEFAULTS);
    if defaults
        .get(PASSIVE_HEALTH_CHECK)
        .is_some_and(|check| !check.is_null())
    {
        return None;
    }
    let outlier = settings.outlier_detection.unwrap_or_default();
    defaults.insert(PASSIVE_HEALTH_CHECK.into(), passive_health_check(&outlier));
    Some(entry)
}

/// The object under `key`, made (in place of a `null` or a missing value) when needed.
fn object_at<'a>(parent: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = parent.entry(key).or_insert(Value::Null);
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("made an object just above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(outlier: Option<OutlierDetection>) -> NetworkResilienceConfig {
        NetworkResilienceConfig {
            enabled: true,
            outlier_detection: outlier,
        }
    }

    #[test]
    fn a_missing_entry_gets_one_with_the_defaults_and_the_tenancy() {
        let entry =
            with_passive_health_check(None, "web", Some("ns1"), Some("p1"), Some(&enabled(None)))
                .unwrap();
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"Kind": "service-defaults", "Name": "web", "Namespace": "ns1",
                   "Partition": "p1",
                   "UpstreamConfig": {"Defaults": {"PassiveHealthCheck": {
                       "Interval": 10_000_000_000i64, "MaxFailures": 5,
                       "MaxEjectionPercent": 50}}}})
        );
    }

    #[test]
    fn an_entry_keeps_its_fields_and_gets_the_configured_values() {
        let existing: ServiceDefaultsEntry = serde_json::from_value(json!({
            "Kind": "service-defaults", "Name": "web", "Protocol": "http",
            "UpstreamConfig": {"Defaults": {"ConnectTimeoutMs": 500}, "Overrides": []},
            "CreateIndex": 7, "ModifyIndex": 9
        }))
        .unwrap();
        let outlier = OutlierDetection {
            interval: Some(1_000_000_000),
            max_failures: Some(2),
            enforcing_consecutive5xx: Some(30),
            max_ejection_percent: Some(20),
            ..Default::default()
        };
        let entry = with_passive_health_check(
            Some(existing),
            "web",
            None,
            None,
            Some(&enabled(Some(outlier))),
        )
        .unwrap();
        let value = serde_json::to_value(&entry).unwrap();
        assert_eq!(value["Protocol"], "http");
        assert_eq!(value["ModifyIndex"], 9);
        assert_eq!(value["UpstreamConfig"]["Overrides"], json!([]));
        assert_eq!(
            value["UpstreamConfig"]["Defaults"],
            json!({"ConnectTimeoutMs": 500, "PassiveHealthCheck": {
                "Interval": 1_000_000_000i64, "MaxFailures": 2, "MaxEjectionPercent": 20,
                "EnforcingConsecutive5xx": 30}})
        );
    }

    #[test]
    fn an_existing_passive_health_check_is_left_alone() {
        let existing: ServiceDefaultsEntry = serde_json::from_value(json!({
            "Kind": "service-defaults", "Name": "web",
            "UpstreamConfig": {"Defaults": {"PassiveHealthCheck": {"MaxFailures": 9}}}
        }))
        .unwrap();
        assert_eq!(
            with_passive_health_check(Some(existing), "web", None, None, Some(&enabled(None))),
            None
        );
    }

    #[test]
    fn nothing_is_written_unless_enabled() {
        let off = NetworkResilienceConfig::default();
        assert_eq!(
            with_passive_health_check(None, "web", None, None, Some(&off)),
            None
        );
        assert_eq!(
            with_passive_health_check(None, "web", None, None, None),
            None
        );
    }
}
