//! Serde helpers for Consul's JSON conventions (Go zero values, `null` slices).

use serde::{Deserialize, Deserializer, Serializer};

/// Deserialises `null` as the type's default, since Go encodes nil slices and maps as `null`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Serialises an empty list as `null`, as the Go client does for `Checks`
/// (docs/protocols.md §4.1).
pub(crate) fn empty_as_null<S: Serializer, T: serde::Serialize>(
    v: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.collect_seq(v)
    }
}

pub(crate) fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
