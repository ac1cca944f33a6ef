//! Typed Consul HTTP client: agent, ACL, partitions and namespaces.
